"""The graduated service's own test suite: ``pytest app_skeleton/tests``."""
