"""Benchmarks: ``python -m bench``. Every figure is measured beside a raw baseline for the same
work, in the same run, and reported with the ratio: this machine is shared and noisy."""
