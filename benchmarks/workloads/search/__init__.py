"""The search workload: its spec, presets and data (workload.py), and what only it needs."""

from benchmarks.workloads.search.workload import Search

WORKLOAD = Search()
