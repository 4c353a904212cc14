"""Matching: banks, indexes and robust views."""
