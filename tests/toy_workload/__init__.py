"""A sixth, toy workload kept outside ``benchmarks/``: linear regression on synthetic
data. It is registered only by ``BENCH_WORKLOADS=tests.toy_workload`` (see
tests/test_toy_workload.py), proving that a workload is its package plus one line."""

from tests.toy_workload.workload import LinearRegression

WORKLOAD = LinearRegression()
