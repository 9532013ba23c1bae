"""Framework-free backend: plain Python floats and hand-derived gradients.

The source's "pure mathematical model" of copy-net: one weight and one bias, no
arrays. It runs only a single Dense(1 -> 1, linear) layer, in float64 (Python floats).
"""
