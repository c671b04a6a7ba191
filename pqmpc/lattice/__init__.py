"""Lattice arithmetic: ML-KEM (FIPS 203) and Saber (module-LWR), plus KEM backends."""
