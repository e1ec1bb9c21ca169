"""Deterministic Temporal workflow code: the case engine."""
