"""The report and the ``runs show`` view of an event-study folder (``papertrade study``).

Reads only the folder's plain files (manifest.json, summary.csv, events.csv, paths.csv,
placebos.csv); anything missing becomes a note, never a crash.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

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
    study = header.get("study")
    if isinstance(study, dict) and isinstance(study.get("notes"), list):
        notes.extend(str(n) for n in study["notes"])
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


class FigureSpec:
    """A plotly figure as plain data: built without plotly's per-property validation, which
    costs seconds for a study's hundreds of traces; ``to_json`` is what the report embeds."""

    def __init__(self, data: list[dict[str, Any]], layout: dict[str, Any]) -> None:
        self.data = data
        self.layout = {"template": _template(), **layout}

    def to_json(self) -> str:
        """The figure as JSON (``NaN`` written as ``null``, as plotly.js expects)."""
        return json.dumps({"data": self.data, "layout": self.layout}, separators=(",", ":"),
                          allow_nan=False)


@functools.cache
def _template() -> dict[str, Any]:
    import plotly.io as pio

    spec: dict[str, Any] = pio.templates["plotly_white"].to_plotly_json()
    return spec


def _values(series: Any, digits: int = 5) -> list[float | None]:
    """Numbers for JSON: rounded, NaN as None."""
    out: list[float | None] = []
    for v in pd.to_numeric(pd.Series(series), errors="coerce").round(digits):
        out.append(None if pd.isna(v) else float(v))
    return out


def paths_figure(view: StudyView, kind: str) -> FigureSpec | None:
    """Event-aligned paths of each symbol (dropdown): one thin line per event, their mean in
    bold, the unconditional mean dashed and its interquartile band shaded."""
    frame = view.paths
    symbols = [str(s) for s in view.study.get("symbols", [])]
    if frame is None or "day" not in frame or not symbols:
        return None
    days = [int(d) for d in frame["day"]]
    data: list[dict[str, Any]] = []
    owner: list[int] = []

    def add(i: int, y: Any, **trace: Any) -> None:
        data.append({"type": "scatter", "mode": "lines", "x": days, "y": _values(y),
                     "visible": i == 0, **trace})
        owner.append(i)

    for i, symbol in enumerate(symbols):
        events = [c for c in frame.columns if c.startswith(f"{symbol}|") and c.endswith(
            f"|{kind}")]
        if not events:
            continue
        if f"{symbol}|any:p25" in frame and f"{symbol}|any:p75" in frame:
            add(i, frame[f"{symbol}|any:p75"], line={"width": 0}, hoverinfo="skip",
                showlegend=False)
            add(i, frame[f"{symbol}|any:p25"], line={"width": 0}, fill="tonexty",
                fillcolor="rgba(120,120,120,0.18)", name="any day: 25–75 %")
        if f"{symbol}|any:mean" in frame:
            add(i, frame[f"{symbol}|any:mean"], name="any day: mean",
                line={"dash": "dash", "color": "#555"})
        for col in events:
            when = col.split("|")[1]
            add(i, frame[col], name=when, line={"width": 1}, opacity=0.55, showlegend=False,
                hovertemplate=f"{when}: %{{y:.1%}}<extra></extra>")
        add(i, frame[events].mean(axis=1, skipna=True), name=f"mean of {len(events)} {kind}",
            line={"width": 4, "color": "#c2410c"})
    if not owner:
        return None
    shown = sorted(set(owner))
    buttons = [{"label": symbols[i], "method": "update",
                "args": [{"visible": [o == i for o in owner]},
                         {"title.text": f"{symbols[i]} after each '{kind}'"}]} for i in shown]
    return FigureSpec(data, {
        "title": {"text": f"{symbols[shown[0]]} after each '{kind}'"}, "height": 460,
        "xaxis": {"title": {"text": "calendar days after the decision"}},
        "yaxis": {"title": {"text": "return from entry"}, "tickformat": ".0%"},
        "margin": {"t": 60, "r": 20},
        "updatemenus": [{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.15}]})


def placebo_figure(view: StudyView, kind: str) -> FigureSpec | None:
    """Placebo distribution of the event mean per horizon (dropdown: symbol), the observed
    mean marked."""
    hist, summary = view.placebos, view.summary
    if hist is None or summary is None or hist.empty:
        return None
    hist = hist[hist["event"] == kind]
    rows = summary[summary["event"] == kind].set_index(["symbol", "horizon"])
    horizons = sorted(int(h) for h in hist["horizon"].dropna().unique())
    symbols = list(dict.fromkeys(str(s) for s in hist["symbol"]))
    if not horizons or not symbols:
        return None
    groups = {(str(k[0]), int(k[1])): g for k, g in hist.groupby(["symbol", "horizon"])}
    data: list[dict[str, Any]] = []
    owner: list[int] = []
    for i, symbol in enumerate(symbols):
        for j, h in enumerate(horizons):
            bins = groups.get((symbol, h))
            if bins is None:
                continue
            tag = "" if j == 0 else str(j + 1)
            axes = {"xaxis": f"x{tag}", "yaxis": f"y{tag}"}
            data.append({"type": "bar", "x": _values((bins["left"] + bins["right"]) / 2, 6),
                         "y": _values(bins["count"], 0),
                         "width": _values(bins["right"] - bins["left"], 6),
                         "marker": {"color": "#94a3b8"}, "showlegend": False,
                         "visible": i == 0, "name": "placebo means", **axes})
            owner.append(i)
            observed = float(rows.loc[(symbol, h), "mean"]) if (symbol, h) in rows.index \
                else math.nan
            if math.isfinite(observed):
                p = num(rows.loc[(symbol, h), "placebo_p"], ".3f")
                data.append({"type": "scatter", "mode": "lines", "x": [observed, observed],
                             "y": [0, float(bins["count"].max())],
                             "line": {"color": "#c2410c", "width": 3}, "showlegend": False,
                             "visible": i == 0, "name": f"observed {pct(observed)} (p = {p})",
                             "hovertemplate": f"observed mean {pct(observed)}, placebo p = "
                                              f"{p}<extra></extra>", **axes})
                owner.append(i)
    if not owner:
        return None
    buttons = [{"label": s, "method": "update",
                "args": [{"visible": [o == i for o in owner]},
                         {"title.text": f"{s}: placebo means of '{kind}' vs the observed one"}]}
               for i, s in enumerate(symbols) if i in set(owner)]
    gap, n = 0.04, len(horizons)
    width = (1 - gap * (n - 1)) / n
    layout: dict[str, Any] = {
        "title": {"text": f"{symbols[0]}: placebo means of '{kind}' vs the observed one"},
        "height": 360, "bargap": 0, "margin": {"t": 80, "r": 20},
        "updatemenus": [{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.3}],
        "annotations": [{"text": f"{h} d", "showarrow": False, "xref": "paper",
                         "yref": "paper", "x": j * (width + gap) + width / 2, "y": 1.0,
                         "yanchor": "bottom", "font": {"size": 14}}
                        for j, h in enumerate(horizons)]}
    for j in range(n):
        tag = "" if j == 0 else str(j + 1)
        layout[f"xaxis{tag}"] = {"domain": [j * (width + gap), j * (width + gap) + width],
                                 "anchor": f"y{tag}", "tickformat": ".0%"}
        layout[f"yaxis{tag}"] = {"anchor": f"x{tag}"}
    return FigureSpec(data, layout)


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
