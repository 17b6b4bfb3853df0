"""Helpers for testing code that uses imkerutils: generator conformance, stub sources, layout checks."""
