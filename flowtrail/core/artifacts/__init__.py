"""Bytes in storage: saving, reading, managed objects, cleanup and commit checks."""
