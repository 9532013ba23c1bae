"""The harness: CLI, runner, per-cell timing, training drivers, records and reports.

It reaches a backend only through ``shared.registry``, by name, inside the process
that runs the cell.
"""
