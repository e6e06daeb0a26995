"""Benchmarks (`make bench`): each topic module exposes run() -> list of table rows."""
