"""Plotly figures of a run. SVG traces only (no WebGL), so they draw in any browser."""

from __future__ import annotations

from typing import Any, Final

import pandas as pd
import plotly.graph_objects as go

from papertrade.report.frames import drawdown, monthly_returns

HEIGHT: Final = 420
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
EVENT_STYLE: Final[dict[str, dict[str, Any]]] = {
    "breakout": {"symbol": "triangle-up", "color": "#1a9850", "size": 11},
    "exit": {"symbol": "triangle-down", "color": "#d73027", "size": 11},
    "rotate": {"symbol": "diamond", "color": "#f28e2b", "size": 8},
}


def _layout(fig: go.Figure, title: str, **extra: Any) -> go.Figure:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "y": 0.985, "yanchor": "top"},
        "template": "plotly_white", "height": HEIGHT, "hovermode": "x unified",
        "margin": {"l": 64, "r": 24, "t": 78, "b": 40},
        "legend": {"orientation": "h", "y": 1.01, "yanchor": "bottom", "x": 1,
                   "xanchor": "right"},
    }
    fig.update_layout(**{**layout, **extra})
    return fig


def _dates(index: pd.Index) -> list[str]:
    return [str(d)[:10] for d in index]


def _log_toggle(axes: tuple[str, ...] = ("yaxis",)) -> list[dict[str, Any]]:
    def args(kind: str) -> list[dict[str, str]]:
        return [{f"{axis}.type": kind for axis in axes}]

    return [{
        "type": "buttons", "direction": "right", "x": 0, "xanchor": "left",
        "y": 1.01, "yanchor": "bottom", "pad": {"t": 0, "b": 0}, "showactive": True,
        "active": 0,
        "buttons": [{"label": "linear", "method": "relayout", "args": args("linear")},
                    {"label": "log", "method": "relayout", "args": args("log")}],
    }]


def equity_figure(equity: pd.Series, benchmarks: pd.DataFrame | None,
                  quote: str = "") -> go.Figure:
    """Equity against the buy-and-hold benchmarks, with a linear/log toggle."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=_dates(equity.index), y=equity.to_numpy(), name="strategy",
                             line={"color": "#1f77b4", "width": 2}))
    if benchmarks is not None:
        for name in benchmarks.columns:
            series = benchmarks[name].dropna()
            fig.add_trace(go.Scatter(x=_dates(series.index), y=series.to_numpy(),
                                     name=str(name), line={"width": 1}, opacity=0.8))
    unit = f" ({quote})" if quote else ""
    return _layout(fig, "Equity vs benchmarks" + unit, updatemenus=_log_toggle(),
                   yaxis={"title": {"text": f"equity{unit}"}, "tickformat": ",.0f"})


def drawdown_figure(equity: pd.Series, benchmarks: pd.DataFrame | None) -> go.Figure:
    """Strategy drawdown as a filled area, benchmarks as thin lines."""
    fig = go.Figure()
    dd = drawdown(equity)
    fig.add_trace(go.Scatter(x=_dates(dd.index), y=dd.to_numpy(), name="strategy",
                             fill="tozeroy", line={"color": "#d62728", "width": 1}))
    if benchmarks is not None:
        for name in benchmarks.columns:
            series = drawdown(benchmarks[name].dropna())
            fig.add_trace(go.Scatter(x=_dates(series.index), y=series.to_numpy(),
                                     name=str(name), line={"width": 1, "dash": "dot"}))
    return _layout(fig, "Drawdown", yaxis={"tickformat": ".0%", "title": {"text": "drawdown"}})


def allocation_figure(weights: pd.DataFrame, source: str = "") -> go.Figure:
    """Stacked area of the weights per symbol, cash on top up to 100 %."""
    fig = go.Figure()
    x = _dates(weights.index)
    for name in weights.columns:
        if not (weights[name].abs() > 1e-12).any():
            continue
        fig.add_trace(go.Scatter(x=x, y=weights[name].to_numpy(), name=str(name),
                                 stackgroup="w", line={"width": 0.5, "shape": "hv"}))
    cash = (1 - weights.sum(axis=1)).clip(lower=0)
    fig.add_trace(go.Scatter(x=x, y=cash.to_numpy(), name="cash", stackgroup="w",
                             line={"width": 0.5, "shape": "hv", "color": "#bbbbbb"}))
    title = "Allocation over time" + (f" <span style='font-size:12px'>({source})</span>"
                                      if source else "")
    return _layout(fig, title, yaxis={"tickformat": ".0%", "range": [0, 1.0001]})


def _in_market_spans(flags: pd.Series) -> list[tuple[str, str]]:
    spans: list[tuple[str, str]] = []
    start: str | None = None
    dates = _dates(flags.index)
    for date, flag in zip(dates, flags.to_numpy(), strict=True):
        if flag and start is None:
            start = date
        elif not flag and start is not None:
            spans.append((start, date))
            start = None
    if start is not None:
        spans.append((start, dates[-1]))
    return spans


def signal_lines(signals: pd.DataFrame) -> list[str]:
    """Columns worth drawing as lines: the main one, and levels on the same scale.

    0/1 flags (``in_market``, ``rotated``) and series on another scale (``btc_close`` next
    to an index near 2,000) are left out; the main line is ``signal_close`` when present.
    """
    numeric = [c for c in signals.columns
               if c not in ("in_market", "event") and pd.api.types.is_numeric_dtype(signals[c])]
    flags = {c for c in numeric if signals[c].dropna().isin([0, 1]).all()}
    numeric = [c for c in numeric if c not in flags and signals[c].notna().any()]
    if not numeric:
        return []
    main = "signal_close" if "signal_close" in numeric else numeric[0]
    scale = float(signals[main].abs().median()) or 1.0
    same = [c for c in numeric
            if c != main and 0.5 <= float(signals[c].abs().median()) / scale <= 2.0]
    return [main, *same]


def signal_figure(signals: pd.DataFrame, signal: str = "") -> go.Figure | None:
    """The signal index with its levels, event markers and in-market periods shaded."""
    numeric = signal_lines(signals)
    if not numeric:
        return None
    fig = go.Figure()
    x = _dates(signals.index)
    main = numeric[0]
    for column in numeric:
        style = ({"color": "#333333", "width": 1.5} if column == main
                 else {"width": 1, "dash": "dot"})
        shown = f"{signal} close" if column == main and signal else column
        fig.add_trace(go.Scatter(x=x, y=signals[column].to_numpy(), name=shown, line=style))
    if "event" in signals.columns:
        events = signals["event"].astype(str)
        for kind in sorted(set(events) - {"", "nan"}):
            at = signals[events == kind]
            style = EVENT_STYLE.get(kind, {"symbol": "circle", "color": "#7f7f7f", "size": 8})
            fig.add_trace(go.Scatter(x=_dates(at.index), y=at[main].to_numpy(), mode="markers",
                                     name=kind, marker={**style, "line": {"width": 0.5}}))
    if "in_market" in signals.columns:
        flags = pd.to_numeric(signals["in_market"], errors="coerce").fillna(0) > 0
        for x0, x1 in _in_market_spans(flags):
            fig.add_vrect(x0=x0, x1=x1, fillcolor="#2ca02c", opacity=0.10, line_width=0,
                          layer="below")
        if flags.any():  # a legend entry for the shading
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="in market",
                                     marker={"symbol": "square", "size": 12,
                                             "color": "rgba(44,160,44,0.25)"}))
    title = f"Signal: {signal}" if signal else "Signal"
    return _layout(fig, title, updatemenus=_log_toggle(),
                   yaxis={"tickformat": ",.0f"})


def monthly_figure(equity: pd.Series) -> go.Figure:
    """Heatmap of monthly returns, years down, months across."""
    table = monthly_returns(equity)
    z = table.to_numpy() * 100
    text = [[("" if pd.isna(v) else f"{v:.1f}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(MONTHS), y=[str(y) for y in table.index], text=text,
        texttemplate="%{text}", colorscale="RdYlGn", zmid=0, xgap=1, ygap=1,
        hovertemplate="%{y} %{x}: %{z:.2f} %<extra></extra>",
        colorbar={"title": {"text": "%"}},
    ))
    height = max(260, 60 + 26 * len(table.index))
    fig = _layout(fig, "Monthly returns (%)", hovermode="closest")
    fig.update_layout(height=height, yaxis={"autorange": "reversed", "type": "category"})
    return fig


def compare_figure(curves: dict[str, pd.Series]) -> go.Figure:
    """Growth of 1 of each run, on one chart with a linear/log toggle."""
    fig = go.Figure()
    for name, equity in curves.items():
        if equity.empty:
            continue
        growth = equity / equity.iloc[0]
        fig.add_trace(go.Scatter(x=_dates(growth.index), y=growth.to_numpy(), name=name,
                                 line={"width": 1.5}))
    return _layout(fig, "Growth of 1", updatemenus=_log_toggle(), height=520,
                   yaxis={"title": {"text": "equity / start equity"}})
