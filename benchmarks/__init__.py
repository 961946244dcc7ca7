"""Benchmarks, run by hand (`make bench` or `python -m benchmarks`); never timed in tests."""
