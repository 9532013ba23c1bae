"""The nbody workload: its spec, presets and data (workload.py), and what only it needs."""
