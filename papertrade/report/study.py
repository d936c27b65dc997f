"""The report and the ``runs show`` view of an event-study folder (``papertrade study``).

Reads only the folder's plain files (manifest.json, summary.csv, events.csv, paths.csv,
placebos.csv); anything missing becomes a note, never a crash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from papertrade.report.html_parts import table
from papertrade.runfolder import RunHeader, missing_files, read_csv, read_header
from papertrade.runfolder.layout import STUDY_EVENTS, STUDY_PATHS, STUDY_PLACEBOS, STUDY_SUMMARY

_TEXT_COLUMNS = {"event", "symbol", "note", "date", "time", "incomplete"}


@dataclass
class StudyView:
    """A study folder as frames; ``None`` for a file that is missing or unreadable."""

    header: RunHeader
    summary: pd.DataFrame | None
    events: pd.DataFrame | None
    paths: pd.DataFrame | None
    placebos: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)

    @property
    def study(self) -> dict[str, Any]:
        """The manifest's ``study`` block (options, kinds, symbols, timing)."""
        value = self.header.get("study")
        return value if isinstance(value, dict) else {}

    @property
    def verdicts(self) -> dict[str, str]:
        """One plain-words paragraph per event kind."""
        value = self.header.get("verdict")
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    @property
    def kinds(self) -> list[str]:
        """The event kinds studied, in order of first appearance."""
        kinds = self.study.get("kinds")
        if isinstance(kinds, list):
            return [str(k) for k in kinds]
        return list(dict.fromkeys(self.summary["event"])) if self.summary is not None else []


def _frame(path: Path, notes: list[str]) -> pd.DataFrame | None:
    table_ = read_csv(path)
    if table_.problem:
        notes.append(table_.problem)
    if not table_.header:
        return None
    frame = pd.DataFrame(table_.rows, columns=table_.header)
    for col in frame.columns:
        if col not in _TEXT_COLUMNS:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def load_study(path: Path) -> StudyView:
    """Read the study folder at ``path``."""
    header = read_header(path)
    notes: list[str] = []
    if header.status != "finished":
        notes.append(f"{header.status}: {header.reason}" if header.reason else header.status)
    notes.extend(missing_files(header))
    return StudyView(header, _frame(path / STUDY_SUMMARY, notes),
                     _frame(path / STUDY_EVENTS, notes), _frame(path / STUDY_PATHS, notes),
                     _frame(path / STUDY_PLACEBOS, notes), notes)


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as ``+12.3 %`` (``–`` when missing)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(number) else f"{number * 100:+.{digits}f} %"


def num(value: Any, fmt: str = ".2f") -> str:
    """A number as text (``–`` when missing)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(number) else format(number, fmt)


# --------------------------------------------------------------------------- figures


def paths_figure(view: StudyView, kind: str) -> go.Figure | None:
    """Event-aligned paths of each symbol (dropdown): one thin line per event, their mean in
    bold, the unconditional mean dashed and its interquartile band shaded."""
    frame = view.paths
    symbols = [str(s) for s in view.study.get("symbols", [])]
    if frame is None or "day" not in frame or not symbols:
        return None
    days = frame["day"]
    fig = go.Figure()
    owner: list[int] = []
    for i, symbol in enumerate(symbols):
        events = [c for c in frame.columns if c.startswith(f"{symbol}|") and c.endswith(
            f"|{kind}")]
        if not events:
            continue
        low, high = frame.get(f"{symbol}|any:p25"), frame.get(f"{symbol}|any:p75")
        if low is not None and high is not None:
            fig.add_scatter(x=days, y=high, mode="lines", line={"width": 0}, hoverinfo="skip",
                            showlegend=False, visible=i == 0)
            fig.add_scatter(x=days, y=low, mode="lines", line={"width": 0}, fill="tonexty",
                            fillcolor="rgba(120,120,120,0.18)", name="any day: 25–75 %",
                            visible=i == 0)
            owner += [i, i]
        if f"{symbol}|any:mean" in frame:
            fig.add_scatter(x=days, y=frame[f"{symbol}|any:mean"], mode="lines",
                            name="any day: mean", line={"dash": "dash", "color": "#555"},
                            visible=i == 0)
            owner.append(i)
        for col in events:
            fig.add_scatter(x=days, y=frame[col], mode="lines", name=col.split("|")[1],
                            line={"width": 1}, opacity=0.55, showlegend=False,
                            visible=i == 0, hovertemplate=f"{col.split('|')[1]}: %{{y:.1%}}"
                                                          "<extra></extra>")
            owner.append(i)
        fig.add_scatter(x=days, y=frame[events].mean(axis=1, skipna=True), mode="lines",
                        name=f"mean of {len(events)} {kind}", line={"width": 4,
                                                                    "color": "#c2410c"},
                        visible=i == 0)
        owner.append(i)
    if not owner:
        return None
    shown = sorted(set(owner))
    buttons = [{"label": symbols[i], "method": "update",
                "args": [{"visible": [o == i for o in owner]},
                         {"title.text": f"{symbols[i]} after each '{kind}'"}]} for i in shown]
    fig.update_layout(
        title=f"{symbols[shown[0]]} after each '{kind}'", template="plotly_white", height=460,
        xaxis_title="calendar days after the decision", yaxis_tickformat=".0%",
        yaxis_title="return from entry", margin={"t": 60, "r": 20},
        updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.15}])
    return fig


def placebo_figure(view: StudyView, kind: str) -> go.Figure | None:
    """Placebo distribution of the event mean per horizon (dropdown: symbol), the observed
    mean marked."""
    hist, summary = view.placebos, view.summary
    if hist is None or summary is None or hist.empty:
        return None
    hist = hist[hist["event"] == kind]
    rows = summary[summary["event"] == kind]
    horizons = sorted(int(h) for h in hist["horizon"].dropna().unique())
    symbols = [s for s in dict.fromkeys(hist["symbol"])]
    if not horizons or not symbols:
        return None
    fig = make_subplots(rows=1, cols=len(horizons), subplot_titles=[f"{h} d" for h in horizons])
    owner: list[int] = []
    for i, symbol in enumerate(symbols):
        for j, h in enumerate(horizons):
            bins = hist[(hist["symbol"] == symbol) & (hist["horizon"] == h)]
            if bins.empty:
                continue
            mid = (bins["left"] + bins["right"]) / 2
            fig.add_bar(x=mid, y=bins["count"], width=bins["right"] - bins["left"],
                        marker_color="#94a3b8", showlegend=False, visible=i == 0,
                        name="placebo means", row=1, col=j + 1)
            owner.append(i)
            match = rows[(rows["symbol"] == symbol) & (rows["horizon"] == h)]
            observed = float(match["mean"].iloc[0]) if len(match) else math.nan
            if math.isfinite(observed):
                p = num(match["placebo_p"].iloc[0], ".3f")
                fig.add_scatter(x=[observed, observed], y=[0, float(bins["count"].max())],
                                mode="lines", line={"color": "#c2410c", "width": 3},
                                name=f"observed {pct(observed)} (p = {p})", showlegend=False,
                                visible=i == 0, row=1, col=j + 1,
                                hovertemplate=f"observed mean {pct(observed)}, placebo p = {p}"
                                              "<extra></extra>")
                owner.append(i)
    if not owner:
        return None
    buttons = [{"label": s, "method": "update",
                "args": [{"visible": [o == i for o in owner]},
                         {"title.text": f"{s}: placebo means of '{kind}' vs the observed one"}]}
               for i, s in enumerate(symbols) if i in set(owner)]
    fig.update_layout(
        title=f"{symbols[0]}: placebo means of '{kind}' vs the observed one",
        template="plotly_white", height=360, bargap=0, margin={"t": 80, "r": 20},
        updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.3}])
    fig.update_xaxes(tickformat=".0%")
    return fig


# --------------------------------------------------------------------------- tables


def summary_table(view: StudyView, kind: str) -> str:
    """Per symbol and horizon: events, mean, median, hit rate vs any day, and the tests."""
    if view.summary is None:
        return '<p class="missing">summary.csv is missing</p>'
    rows = view.summary[view.summary["event"] == kind]
    head = ["symbol", "horizon", "events", "complete", "mean", "median", "hit", "any day",
            "effect", "CI", "HAC t", "placebo p", "max DD: mean", "worst", "any day",
            "note"]
    body = [[escape(str(r["symbol"])), f"{int(r['horizon'])} d", num(r["events"], ".0f"),
             num(r["complete"], ".0f"), pct(r["mean"]), pct(r["median"]),
             pct(r["hit_rate"], 0).lstrip("+"), pct(r["any_mean"]), pct(r["effect"]),
             f"[{pct(r['ci_low'])}, {pct(r['ci_high'])}]", num(r["hac_t"]),
             num(r["placebo_p"], ".3f"), pct(r["mean_maxdd"]), pct(r["worst_maxdd"]),
             pct(r["any_mean_maxdd"]), escape(str(r["note"] or ""))]
            for _, r in rows.iterrows()]
    level = rows["ci_level"].dropna()
    ci = f"{round(float(level.iloc[0]) * 100)} %" if len(level) else "95 %"
    return table(f"summary-{_slug(kind)}", head, body,
                 f"'{kind}': per symbol and horizon (effect = event mean − other days' mean; "
                 f"CI: {ci} stationary block bootstrap; placebo p two-sided)")


def events_table(view: StudyView, kind: str) -> str:
    """One row per event and symbol: the forward return (and maximum drawdown) per horizon."""
    frame = view.events
    if frame is None:
        return '<p class="missing">events.csv is missing</p>'
    frame = frame[frame["event"] == kind]
    symbols = [str(s) for s in view.study.get("symbols", [])]
    horizons = [int(h) for h in view.study.get("horizons", [])]
    body = []
    for _, r in frame.iterrows():
        for s in symbols:
            cells = [f"{pct(r.get(f'{s}:{h}d'))} <small>({pct(r.get(f'{s}:{h}d:maxdd'))})"
                     "</small>" for h in horizons]
            body.append([escape(str(r["date"])), escape(str(r["time"])), escape(s), *cells,
                         escape(str(r.get("incomplete") or ""))])
    head = ["date", "decision time (UTC)", "symbol", *(f"{h} d" for h in horizons),
            "incomplete"]
    return table(f"events-{_slug(kind)}", head, body,
                 f"each '{kind}': forward return (maximum drawdown); – = incomplete or no price")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text)[:40] or "event"
