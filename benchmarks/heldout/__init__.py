"""Held-out masking corpus (issue 16): corpus.py builds it, evaluate.py grades dms_magic and Presidio on it."""
