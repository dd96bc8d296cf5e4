"""Benchmarks: each writes bench/results/<name>.json; docs/benchmarks.md is made from them."""
