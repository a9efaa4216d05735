"""Flask-free grading core: labs, fixtures, running, comparison, scoring.

Nothing is imported here eagerly: the untrusted child imports
``grader.grading.harness`` and must not pull in the reference or the fixtures.
"""
