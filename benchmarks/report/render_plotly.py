"""A ``Figure`` (figure.py) as a Plotly figure: the interactive chart report.html shows
(hover values, a legend that hides and shows a series group, zoom). plotly.js itself is
embedded by ``benchmarks.document`` once per file; nothing is loaded from the network."""

from __future__ import annotations

import numpy as np

from benchmarks.report.figure import Figure, Panel, Series

PIXELS_PER_INCH = 100  # the HTML chart's height from the PNG's (its width follows the page)

# Plotly.newPlot's config: the mode bar keeps zoom, pan and "download as PNG" (drawn in the
# browser) but nothing that talks to a server: no Chart Studio link or logo.
CONFIG = {
    "displaylogo": False,
    "showLink": False,
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "plotlyServerURL": "",
    "responsive": True,
    "toImageButtonOptions": {"format": "png"},
}


def to_plotly(figure: Figure):
    """The ``plotly.graph_objects.Figure`` of ``figure``: a subplot per panel."""
    from plotly.subplots import make_subplots

    rows, columns = figure.grid
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[panel.title for panel in figure.panels],
        shared_yaxes=figure.shared_y,
        horizontal_spacing=0.08 if columns > 1 else 0.02,
        vertical_spacing=min(0.3 / rows, 0.12) if rows > 1 else 0.1,
    )
    colors = figure.colors()
    shown: set[str] = set()
    for index, panel in enumerate(figure.panels):
        row, col = divmod(index, columns)
        for series in panel.series:
            trace = _trace(series, colors[series.color_key], series.legend_group not in shown)
            if series.legend:
                shown.add(series.legend_group)
            fig.add_trace(trace, row=row + 1, col=col + 1)
        _axes(fig, panel, row + 1, col + 1)
    fig.update_layout(
        title={"text": figure.title.replace("\n", "<br>"), "font": {"size": 13}},
        height=int(figure.panel_height * rows * PIXELS_PER_INCH) + 120,
        barmode="stack" if figure.stacked else "group",
        template="plotly_white",
        legend=_legend(figure),
        hovermode="closest",
        margin={"t": 90 if "\n" in figure.title else 70, "b": 110 if _shaded(figure) else 60},
    )
    fig.update_annotations(font_size=11)  # the subplot titles
    return fig


def _legend(figure: Figure) -> dict:
    """On the right; below the panels where a colour bar takes the right."""
    legend = {"font": {"size": 10}, "groupclick": "togglegroup"}
    if _shaded(figure):
        legend.update(orientation="h", x=0, y=-0.25, yanchor="top")
    return legend


def _shaded(figure: Figure) -> bool:
    return any(s.shade is not None for panel in figure.panels for s in panel.series)


def plotly_json(figure: Figure) -> str:
    """``figure`` as Plotly JSON ({"data": ..., "layout": ...}), safe inside a
    ``<script>``: no ``</`` in it."""
    return to_plotly(figure).to_json().replace("</", "<\\/")


def _array(values) -> np.ndarray | list:
    """Numbers as float32 (half the bytes of float64 in Plotly's base64 arrays; enough
    for a chart), None as NaN; category names as they are."""
    values = list(values)
    if any(isinstance(v, str) for v in values):
        return values
    return np.array([np.nan if v is None else v for v in values], dtype=np.float32)


def _trace(series: Series, color: str, first_of_group: bool):
    import plotly.graph_objects as go

    common = {
        "name": series.name,
        "legendgroup": series.legend_group,
        "showlegend": series.legend and first_of_group,
        "opacity": series.opacity,
    }
    errors = None
    if series.error_low is not None and series.error_high is not None:
        errors = {
            "type": "data",
            "symmetric": False,
            "array": _array(series.error_high),
            "arrayminus": _array(series.error_low),
        }
    if series.kind in ("bar", "barh"):
        horizontal = series.kind == "barh"
        return go.Bar(
            x=_array(series.x),
            y=_array(series.y),
            orientation="h" if horizontal else "v",
            marker_color=color,
            **({"error_x": errors} if horizontal and errors else {}),
            **({"error_y": errors} if errors and not horizontal else {}),
            **common,
        )
    mode = {"line": "lines", "dash": "lines", "markers": "markers"}.get(series.kind, series.kind)
    marker: dict = {"color": color, "size": 5}
    if series.shade is not None:
        marker = {
            "color": _array(series.shade),
            "colorscale": "Viridis",
            "size": 6,
            "colorbar": {"title": {"text": series.shade_title}, "thickness": 12},
            "showscale": first_of_group,
        }
    return go.Scatter(
        x=_array(series.x),
        y=_array(series.y),
        mode=mode,
        line={"color": color, "width": 1.5, "dash": "dash" if series.kind == "dash" else "solid"},
        marker=marker,
        **({"error_y": errors} if errors else {}),
        **common,
    )


def _axes(fig, panel: Panel, row: int, col: int) -> None:
    x = {"title_text": panel.x_title, "type": "log" if panel.x_log else None}
    if panel.x_ticks is not None:
        x["tickvals"] = list(panel.x_ticks)
    if panel.x_range is not None:
        x["range"] = list(panel.x_range)
    fig.update_xaxes(**x, row=row, col=col)
    y = {"title_text": panel.y_title, "type": "log" if panel.y_log else None}
    if panel.equal_aspect:
        anchor = fig.get_subplot(row, col).xaxis.plotly_name.replace("axis", "")
        y.update(scaleanchor=anchor, scaleratio=1)
    fig.update_yaxes(**y, row=row, col=col)
    for band in panel.bands:
        fig.add_vrect(
            x0=band.start,
            x1=band.end,
            fillcolor="#ebebeb" if band.shaded else "rgba(0,0,0,0)",
            line_width=0,
            layer="below",
            annotation_text=band.label,
            annotation_position="top",
            annotation_font_size=9,
            row=row,
            col=col,
        )
    for note in panel.notes:
        fig.add_annotation(
            x=note.x,
            y=note.y,
            text=note.text,
            showarrow=False,
            xanchor="left",
            font_size=10,
            row=row,
            col=col,
        )
