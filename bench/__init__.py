"""Benchmarks and validation runs (not part of the installed package)."""
