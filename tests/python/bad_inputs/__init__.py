"""Helpers for tests/python/test_bad_inputs.py: copy the embedded raw exports,
edit them as CSV tables (or as bytes), and read what a build made of them."""
