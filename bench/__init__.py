"""Benchmarks: run as ``python -m bench.<name>``; never collected as tests."""
