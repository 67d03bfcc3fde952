"""Session fixtures shared by engine and Qt tests: tiny real datasets and a tiny trained model.

(Filled in by the training engine's tests; imported by tests/conftest.py.)
"""
