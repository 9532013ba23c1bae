"""The report of a run: report.md (static PNG charts), report.html (the same charts
interactive, Plotly, plotly.js inlined once; tables that sort), summary.csv.

Built from the records alone (``build.write_report``). The generic sections (the
environment, speed, parity, cells not ok, memory growth, damaged files, loss curves)
live here; each workload adds its own sections, charts and exports through the hooks of
``benchmarks.workloads.base.Workload`` (``report_sections``, ``report_charts``, ...),
in ``benchmarks/workloads/<name>/report.py`` and ``charts.py``. Nothing here names a
workload.

- ``context``: what a section is given (``ReportContext``);
- ``tables``: a table as a list of ``Column(header, value)``;
- ``format``, ``groups``: number formats, and records grouped into table rows;
- ``answer``: the answer first (fastest against the next, tracing cost, agreement, the
  source's figures; ``Workload.report_pace`` and ``report_source``);
- ``environment``, ``speed``, ``parity``, ``status``, ``memory``: the generic sections;
- ``figure``: a chart as a framework-free description, drawn by ``render_png``
  (matplotlib, report.md) and ``render_plotly`` (report.html);
- ``charts``: the loss curves, and the helpers every chart uses; ``speed_chart``: the
  speed overview (steady time with its 95% interval, and the first call);
- ``scaling``: steady step time against threads, in a run of several counts;
- ``summary``: the summary as a pandas DataFrame (``summary_frame``) and summary.csv;
  ``csvs``: the CSV writer the workloads' exports use;
- ``build``: the whole report, in order, and ``write_report``.
"""
