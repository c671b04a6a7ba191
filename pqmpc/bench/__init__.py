"""The reproducible benchmark runner behind ``pqmpc bench``."""
