"""Red-team suite: hostile submissions against the sandbox and the grader around it."""
