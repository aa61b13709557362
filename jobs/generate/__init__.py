"""Realistic synthetic visual-search logs with planted, documented discrepancies."""
