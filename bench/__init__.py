"""Benchmarks of the hub (`make bench`); results land in bench/results/."""
