"""Matching: banks of known content, the indexes that look signals up in them, and the matcher.

This package holds the fast indexes (``pdq_index``); banks and the matcher that
follows bank changes across processes build on them.
"""
