"""Benchmark suites that ``pqmpc bench`` runs, one module per layer."""
