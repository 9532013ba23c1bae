"""A chart described once, free of any plotting library, and drawn twice: to a PNG under
``plots/`` for report.md (``render_png``) and to a Plotly figure for report.html
(``render_plotly``). Every chart of the report is a ``Figure``, so none exists in one
format only.

A figure is panels side by side (``columns`` to a row), each with its axes and series.
A series' colour follows its ``color`` key (default: its legend group), the same in every
panel and in both formats; its legend group hides or shows all its lines at once in the
HTML (a click on the legend).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

# "line": solid; "dash": dashed; "markers": dots (``shade``: coloured by a value);
# "lines+markers"; "bar": vertical bars, grouped (or stacked) by x category; "barh":
# horizontal bars, y the category.
Kind = Literal["line", "dash", "markers", "lines+markers", "bar", "barh"]

# matplotlib's tab10, so the PNG and the HTML give a backend the same colour.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
LOG_SPAN = 10.0  # a log axis once the largest value is this many times the smallest
MAX_POINTS = 1500  # per series, after thinning (keeps report.html small)


@dataclass(frozen=True)
class Series:
    """One line, set of dots or set of bars. ``x``, ``y``: numbers (NaN: a gap) or, for
    bars, category names on x (``bar``) or y (``barh``). ``error_low``/``error_high``:
    distances below and above each value (for ``barh``, left and right), e.g. a 95%
    interval."""

    name: str
    x: Sequence
    y: Sequence
    kind: Kind = "line"
    error_low: Sequence[float] | None = None
    error_high: Sequence[float] | None = None
    group: str | None = None  # legend group (default: name)
    color: str | None = None  # colour key (default: the group); a "#rrggbb" is used as is
    legend: bool = True  # named in the legend (once per group)
    shade: Sequence[float] | None = None  # marker colours by value (viridis), markers only
    shade_title: str = ""
    opacity: float = 1.0

    @property
    def legend_group(self) -> str:
        return self.group or self.name

    @property
    def color_key(self) -> str:
        return self.color or self.legend_group


@dataclass(frozen=True)
class Band:
    """A vertical band from ``start`` to ``end`` on x, labelled at the top; grey when
    ``shaded``."""

    start: float
    end: float
    label: str
    shaded: bool = True


@dataclass(frozen=True)
class Note:
    """A text at (x, y) in data coordinates, left-aligned."""

    x: float | str
    y: float | str
    text: str


@dataclass(frozen=True)
class Panel:
    series: tuple[Series, ...]
    title: str = ""
    x_title: str = ""
    y_title: str = ""
    x_log: bool = False
    y_log: bool = False
    equal_aspect: bool = False  # one unit on x as long as one on y (trajectories)
    x_ticks: tuple[float, ...] | None = None
    x_range: tuple[float, float] | None = None
    bands: tuple[Band, ...] = ()
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Figure:
    """``name``: the PNG's file name under ``plots/`` without ``.png``; ``alt``: the
    image's alternative text; ``width``/``panel_height``: the PNG's size in inches
    (the HTML chart takes the page's width and about 100 pixels an inch of height)."""

    name: str
    title: str
    alt: str
    panels: tuple[Panel, ...]
    columns: int = 0  # panels to a row; 0: all in one row
    stacked: bool = False  # bars of one category stacked instead of side by side
    width: float = 11.0
    panel_height: float = 3.6
    shared_y: bool = False

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, columns) of the panels."""
        columns = self.columns or len(self.panels)
        return -(-len(self.panels) // columns), columns

    def colors(self) -> dict[str, str]:
        """Colour key -> "#rrggbb", in order of first appearance over the panels."""
        keys: dict[str, str] = {}
        for panel in self.panels:
            for series in panel.series:
                key = series.color_key
                if key.startswith("#"):
                    keys.setdefault(key, key)
                elif key not in keys:
                    keys[key] = PALETTE[sum(not k.startswith("#") for k in keys) % len(PALETTE)]
        return keys


def spans_decades(*values: Iterable[float | None]) -> bool:
    """Whether a log axis suits these values: all finite ones positive, and the largest at
    least ``LOG_SPAN`` times the smallest. False when there is no finite value."""
    numbers = np.array([v for vs in values for v in vs if v is not None], dtype=np.float64).ravel()
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0 or numbers.min() <= 0:
        return False
    return bool(numbers.max() >= LOG_SPAN * numbers.min())


def thin(x: Sequence[float], y: Sequence[float], limit: int = MAX_POINTS) -> tuple[list, list]:
    """At most about ``limit`` points of a line, keeping its shape: the series is cut into
    ``limit // 2`` runs of consecutive points, and each run keeps its lowest and highest
    y (in order), so spikes survive; the first and last points always stay. A series of
    ``limit`` points or fewer is returned as it is (as lists)."""
    xs, ys = list(x), list(y)
    if len(ys) <= limit:
        return xs, ys
    values = np.array([np.nan if v is None else v for v in ys], dtype=np.float64)
    keep = {0, len(values) - 1}
    for run in np.array_split(np.arange(len(values)), max(1, limit // 2)):
        finite = run[np.isfinite(values[run])]
        if finite.size:
            low, high = np.argmin(values[finite]), np.argmax(values[finite])
            keep.update((int(finite[low]), int(finite[high])))
        else:
            keep.add(int(run[0]))  # a gap stays a gap
    order = sorted(keep)
    return [xs[i] for i in order], [ys[i] for i in order]
