"""Benchmarks, run as ``python -m bench.X``; never collected as tests."""
