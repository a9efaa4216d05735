"""The service layer: people, the submission lifecycle, scores and the gradebook (needs the ``server`` extra)."""
