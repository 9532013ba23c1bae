"""NumPy backend: hand-written forward and backward passes, the suite's reference."""
