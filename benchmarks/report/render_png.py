"""A ``Figure`` (figure.py) drawn with matplotlib to ``plots/<name>.png``: the static
image report.md shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.report.figure import Figure, Panel, Series
from shared.files import write_figure_atomic


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_png(figure: Figure, run_dir: Path) -> str:
    """Write ``figure`` as ``plots/<name>.png`` under ``run_dir``; returns that path,
    relative to ``run_dir``."""
    plt = pyplot()
    rows, columns = figure.grid
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(figure.width, figure.panel_height * rows + 0.5),
        squeeze=False,
        sharey=figure.shared_y,
        layout="constrained",
    )
    colors = figure.colors()
    legend: dict[str, object] = {}  # legend group -> its first drawn artist
    shaded = []
    for ax, panel in zip(axes.flat, figure.panels, strict=False):
        shaded += _draw_panel(ax, panel, figure.stacked, colors, legend)
    for ax in list(axes.flat)[len(figure.panels) :]:
        ax.axis("off")
    if shaded:
        first = shaded[0]
        fig.colorbar(first[0], ax=list(axes.flat), label=first[1])
    if legend:
        fig.legend(list(legend.values()), list(legend), fontsize=7, loc="outside right upper")
    fig.suptitle(figure.title, fontsize=9)
    # Atomic: several `report`s of one run may draw the same chart at once.
    path = Path("plots") / f"{figure.name}.png"
    write_figure_atomic(run_dir / path, fig, dpi=90, format="png")
    plt.close(fig)
    return str(path)


def _categories(panel: Panel) -> list[str]:
    """The category names of the panel's bars, in order of first appearance."""
    names: dict[str, None] = {}
    for series in panel.series:
        if series.kind in ("bar", "barh"):
            names.update(dict.fromkeys(series.x if series.kind == "bar" else series.y))
    return list(names)


def _draw_panel(ax, panel: Panel, stacked: bool, colors, legend) -> list[tuple[object, str]]:
    """Draw the panel's series, bands and notes on ``ax``; returns the (artist, title)
    of each series coloured by value (for a colour bar)."""
    bars = [s for s in panel.series if s.kind in ("bar", "barh")]
    categories = _categories(panel)
    base = np.zeros(len(categories))
    shaded = []
    for series in panel.series:
        color = colors[series.color_key]
        if series.kind in ("bar", "barh"):
            artist = _bars(ax, series, bars, categories, base, stacked, color)
        elif series.shade is not None:
            artist = ax.scatter(
                series.x, series.y, c=series.shade, cmap="viridis", s=14, alpha=series.opacity
            )
            shaded.append((artist, series.shade_title))
        else:
            artist = _line(ax, series, color)
        if series.legend and series.legend_group not in legend:
            legend[series.legend_group] = artist
    if categories and bars[0].kind == "bar":
        ax.set_xticks(range(len(categories)), categories, fontsize=7)
    elif categories:
        ax.set_yticks(range(len(categories)), categories, fontsize=7)
    _axes(ax, panel)
    for band in panel.bands:
        if band.shaded:
            ax.axvspan(band.start, band.end, color="0.92", zorder=0)
        ax.text(
            (band.start + band.end) / 2,
            1.0,
            band.label,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=6,
        )
    for note in panel.notes:
        x = categories.index(note.x) if isinstance(note.x, str) else note.x
        y = categories.index(note.y) if isinstance(note.y, str) else note.y
        ax.text(x, y, f" {note.text}", va="center", fontsize=7)
    return shaded


def _line(ax, series: Series, color: str):
    style = {"line": "-", "dash": "--", "markers": "o", "lines+markers": "-o"}[series.kind]
    size = 3 if series.kind != "line" else None
    errors = _errors(series)
    if errors is not None:
        artist = ax.errorbar(
            series.x,
            series.y,
            yerr=errors,
            fmt=style,
            color=color,
            markersize=size,
            linewidth=1,
            capsize=3,
            alpha=series.opacity,
        )
        return artist
    (artist,) = ax.plot(
        series.x, series.y, style, color=color, markersize=size, linewidth=1, alpha=series.opacity
    )
    return artist


def _bars(ax, series: Series, bars, categories, base, stacked: bool, color: str):
    """Bars of ``series`` at their categories: side by side with the panel's other bar
    series, or stacked on ``base`` (updated in place)."""
    horizontal = series.kind == "barh"
    names, values = (series.y, series.x) if horizontal else (series.x, series.y)
    at = np.array([categories.index(name) for name in names], dtype=float)
    values = np.array(values, dtype=float)
    width = 0.8 if stacked else 0.8 / len(bars)
    if not stacked:
        at = at + (bars.index(series) - (len(bars) - 1) / 2) * width
    start = base[at.astype(int)] if stacked else 0.0
    errors = _errors(series)
    if horizontal:
        artist = ax.barh(at, values, height=width, left=start, color=color, xerr=errors)
    else:
        artist = ax.bar(at, values, width=width, bottom=start, color=color, yerr=errors, capsize=2)
    if stacked:
        base[at.astype(int)] += np.nan_to_num(values)
    return artist


def _errors(series: Series) -> np.ndarray | None:
    if series.error_low is None or series.error_high is None:
        return None
    return np.array([series.error_low, series.error_high], dtype=float)


def _axes(ax, panel: Panel) -> None:
    ax.set_title(panel.title, fontsize=8)
    ax.set_xlabel(panel.x_title, fontsize=8)
    ax.set_ylabel(panel.y_title, fontsize=8)
    ax.tick_params(labelsize=7)
    if panel.x_log:
        ax.set_xscale("log")
    if panel.y_log:
        ax.set_yscale("log")
    if panel.x_ticks is not None:
        ax.set_xticks(panel.x_ticks)
    if panel.x_range is not None:
        ax.set_xlim(*panel.x_range)
    if panel.equal_aspect:
        ax.set_aspect("equal", adjustable="datalim")
