"""``report.html`` of a sweep folder: heatmaps, distributions, the top configs, overfitting
statistics and, after a walk-forward, in-sample vs out-of-sample. Same page shell, plotly
bundle and offline rules as a run's report (:mod:`.html`); it reads the folder only.
"""

from __future__ import annotations

import itertools
from html import escape
from pathlib import Path
from typing import Any, Final

import pandas as pd
import plotly.graph_objects as go

from papertrade.report.charts import _layout
from papertrade.report.formatting import fmt_metric, label
from papertrade.report.html import _footer, figure_block
from papertrade.report.html_parts import page, table
from papertrade.report.sweep_terminal import SHOWN_METRICS, sweep_view
from papertrade.runfolder import read_csv
from papertrade.runfolder.layout import FOLDS, OOS_EQUITY, RESULTS

TOP_N: Final = 20
#: metrics offered in the heatmap and distribution selectors, when present
METRICS: Final = ("sharpe", "total_return", "cagr", "max_drawdown", "sortino", "calmar",
                  "volatility", "exposure", "trades", "win_rate", "turnover", "fees")
HEATMAP_KEYS: Final = 3


def _frame(path: Path) -> pd.DataFrame | None:
    csv = read_csv(path)
    if not csv.rows:
        return None
    frame = pd.DataFrame(csv.rows, columns=csv.header)
    return frame.apply(lambda c: pd.to_numeric(c, errors="coerce")
                       if pd.to_numeric(c, errors="coerce").notna().sum() == (c != "").sum()
                       else c)


def _axis_values(series: pd.Series) -> list[Any]:
    values = series.dropna().unique().tolist()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def heatmap_figure(results: pd.DataFrame, x: str, y: str, metrics: list[str]) -> go.Figure:
    """Mean of each metric over the other keys, ``x`` across and ``y`` down; a dropdown
    chooses the metric."""
    xs, ys = _axis_values(results[x]), _axis_values(results[y])
    fig = go.Figure()
    buttons = []
    for i, metric in enumerate(metrics):
        table_ = results.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")
        z = table_.reindex(index=ys, columns=xs).to_numpy()
        fig.add_trace(go.Heatmap(
            z=z, x=[str(v) for v in xs], y=[str(v) for v in ys], visible=i == 0,
            colorscale="RdYlGn", reversescale=metric in ("volatility", "fees", "turnover"),
            name=metric, colorbar={"title": {"text": label(metric)}},
            hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric} %{{z:.4g}}<extra></extra>"))
        buttons.append({"label": label(metric), "method": "update",
                        "args": [{"visible": [j == i for j in range(len(metrics))]}]})
    return _layout(fig, f"{x} × {y}: the chosen metric, mean over the other keys",
                   hovermode="closest",
                   updatemenus=[{"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.01,
                                 "yanchor": "bottom", "direction": "down", "active": 0}],
                   xaxis={"title": {"text": x}, "type": "category"},
                   yaxis={"title": {"text": y}, "type": "category"})


def line_figure(results: pd.DataFrame, x: str, metrics: list[str]) -> go.Figure:
    """One swept key: each metric's mean against it; a dropdown chooses the metric."""
    fig = go.Figure()
    buttons = []
    xs = _axis_values(results[x])
    for i, metric in enumerate(metrics):
        means = results.groupby(x)[metric].mean().reindex(xs)
        fig.add_trace(go.Scatter(x=[str(v) for v in xs], y=means.to_numpy(), name=metric,
                                 mode="lines+markers", visible=i == 0))
        buttons.append({"label": label(metric), "method": "update",
                        "args": [{"visible": [j == i for j in range(len(metrics))]}]})
    return _layout(fig, f"Metric by {x}", hovermode="closest",
                   updatemenus=[{"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.01,
                                 "yanchor": "bottom", "direction": "down", "active": 0}],
                   xaxis={"title": {"text": x}, "type": "category"})


def distribution_figure(results: pd.DataFrame, metrics: list[str]) -> go.Figure:
    """A histogram of each metric across the sweep; a dropdown chooses the metric."""
    fig = go.Figure()
    buttons = []
    for i, metric in enumerate(metrics):
        fig.add_trace(go.Histogram(x=results[metric].dropna().to_numpy(), name=metric,
                                   visible=i == 0, marker={"color": "#1f77b4"}))
        buttons.append({"label": label(metric), "method": "update",
                        "args": [{"visible": [j == i for j in range(len(metrics))]}]})
    return _layout(fig, "Distribution across the sweep", hovermode="closest",
                   updatemenus=[{"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.01,
                                 "yanchor": "bottom", "direction": "down", "active": 0}],
                   yaxis={"title": {"text": "configs"}}, bargap=0.05)


def folds_figure(folds: pd.DataFrame, objective: str) -> go.Figure:
    """In-sample vs out-of-sample objective per fold."""
    fig = go.Figure()
    x = [f"fold {int(f)}" for f in folds["fold"]]
    for side, color in (("is", "#9ecae1"), ("oos", "#e6550d")):
        column = f"{side}_{objective}"
        if column in folds:
            fig.add_trace(go.Bar(x=x, y=folds[column].to_numpy(), name=side.upper(),
                                 marker={"color": color}))
    return _layout(fig, f"{label(objective)}: in-sample vs out-of-sample", barmode="group",
                   hovermode="closest")


def oos_figure(oos: pd.DataFrame) -> go.Figure:
    """The stitched out-of-sample equity, one colour per fold."""
    fig = go.Figure()
    for fold, part in oos.groupby("fold", sort=True):
        fig.add_trace(go.Scatter(x=part["date"].astype(str).tolist(),
                                 y=part["equity"].to_numpy(), name=f"fold {int(fold)}",
                                 line={"width": 1.5}))
    return _layout(fig, "Out-of-sample equity (stitched, capital carried)",
                   yaxis={"tickformat": ",.0f"})


def _facts(view: dict[str, Any]) -> str:
    h = view["header"]
    counts = h.get("counts") or {}
    timings = h.get("timings") or {}
    facts = [("status", f'<span class="status {escape(h.status)}">{escape(h.status)}</span>'),
             ("mode", "sweep"), ("name", escape(h.name)), ("strategy", escape(h.text("strategy"))),
             ("engine", escape(h.text("engine"))), ("objective", escape(view["objective"])),
             ("period", escape(f"{h.text('start')} → {h.text('end')}")),
             ("configs", escape(f"{counts.get('done', view['rows'])} of "
                                f"{counts.get('total', '?')} ({counts.get('failed', 0)} failed)")),
             ("time", escape(f"{timings.get('seconds', '?')} s, "
                             f"{timings.get('configs_per_s', '?')} configs/s")),
             ("walk-forward", escape(h.text("walk_forward") + (" anchored" if h.get("anchored")
                                                               else ""))),
             ("where", escape(h.text("scheduler"))), ("config", escape(h.text("config_file"))),
             ("created", escape(h.text("created_at"))), ("git", escape(h.text("git_sha")))]
    cells = "".join(f"<div><span>{k}</span>{v}</div>" for k, v in facts if v)
    notes = f'<ul id="notes" class="notes"><li>{escape(h.reason)}</li></ul>' if h.reason else ""
    return f'<div class="facts">{cells}</div>{notes}'


def _top_table(view: dict[str, Any]) -> str:
    keys = view["keys"]
    head = ["#", "config", *(f'<span title="{escape(k)}">{escape(_tail(k))}</span>' for k in keys),
            *(escape(label(m)) for m in SHOWN_METRICS), "replay"]
    rows = [[str(rank), escape(r["config"]), *(escape(r.get(k, "")) for k in keys),
             *(escape(fmt_metric(m, _num(r.get(m)))) for m in SHOWN_METRICS),
             f"<code>{escape(r['replay'])}</code>"]
            for rank, r in enumerate(view["best"], 1)]
    return table("top", head, rows, f"the best {len(rows)} configs by {view['objective']}; "
                 "each replays through the backtest with its command")


def _tail(key: str) -> str:
    """The last two segments of a key path (the full path is the header's tooltip)."""
    return ".".join(key.split(".")[-2:])


def _num(text: Any) -> Any:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return int(value) if value.is_integer() and "." not in str(text) else value


#: the figures of overfitting.json the page shows, per statistic (the rest stays in the file)
OVERFIT_SHOWN: Final = {
    "deflated_sharpe": ("sharpe_annual", "sr0_annual", "dsr", "n_trials", "n_effective",
                        "dsr_effective"),
    "pbo": ("pbo", "n_combinations", "degradation_slope", "prob_oos_loss"),
    "spa": ("pvalue_consistent", "pvalue_lower", "pvalue_upper", "reps", "block_size"),
}


def _overfitting(view: dict[str, Any]) -> str:
    """The verdict in words and each statistic's main figures side by side; the full
    dictionaries (and the CSCV logits) stay in overfitting.json."""
    over = view["overfitting"]
    if not over:
        return '<p class="missing" id="overfitting-missing">no overfitting.json</p>'
    verdict = over.get("verdict") or over.get("not_computed")
    tables = []
    for section, keys in OVERFIT_SHOWN.items():
        values = over.get(section)
        if not isinstance(values, dict):
            continue
        rows = "".join(
            f'<tr data-key="{escape(section)}.{escape(k)}"><th>{escape(k)}</th>'
            f"<td>{escape(_short(values[k]))}</td></tr>" for k in keys if k in values)
        tables.append(f'<table class="kv"><caption>{escape(section)}</caption>{rows}</table>')
    facts = ", ".join(f"{k} {over[k]}" for k in ("configs", "periods", "benchmark") if k in over)
    text = f'<p id="verdict">{escape(str(verdict))}</p>' if verdict else ""
    return (f'{text}<p class="id">{escape(facts)}</p>'
            f'<div id="overfitting" class="metrics">{"".join(tables)}</div>')


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _folds_table(folds: pd.DataFrame) -> str:
    """folds.csv with each figure formatted as the run report formats it."""
    money = ("start_equity", "end_equity")
    head = [escape(c) for c in folds.columns]
    rows = []
    for record in folds.to_dict("records"):
        cells = []
        for column, value in record.items():
            missing = value is None or (isinstance(value, float) and pd.isna(value))
            if missing:
                cells.append("")
            elif column in money:
                cells.append(escape(f"{value:,.2f}"))
            elif column in ("fold", "config"):
                cells.append(escape(str(int(value))))
            elif column.startswith(("is_", "oos_")):
                cells.append(escape(fmt_metric(column.split("_", 1)[1], _num(value))))
            else:
                cells.append(escape(str(value)))
        rows.append(cells)
    return ('<div style="overflow-x: auto">'
            + table("folds", head, rows,
                    "per fold: windows, the config chosen in-sample, IS and OOS metrics")
            + "</div>")


def render_sweep_report(folder: Path, js_tag: str) -> str:
    """The whole page of the sweep folder at ``folder``."""
    view = sweep_view(folder, TOP_N)
    h = view["header"]
    results = _frame(folder / RESULTS)
    keys = [k for k in view["keys"] if results is not None and k in results]
    metrics = [m for m in METRICS if results is not None and m in results
               and pd.api.types.is_numeric_dtype(results[m]) and results[m].notna().any()]
    if view["objective"] in metrics:
        metrics.remove(view["objective"])
        metrics.insert(0, view["objective"])
    blocks: list[str] = []
    why = "no results.csv rows yet" if results is None else "no numeric metric in results.csv"
    if results is not None and metrics and len(keys) >= 2:
        for n, (x, y) in enumerate(itertools.combinations(keys[:HEATMAP_KEYS], 2)):
            blocks.append(figure_block(f"heatmap-{n}", heatmap_figure(results, x, y, metrics)))
    elif results is not None and metrics and keys:
        blocks.append(figure_block("by-key", line_figure(results, keys[0], metrics)))
    else:
        blocks.append(figure_block("heatmap", None, why))
    blocks.append(figure_block("distribution", distribution_figure(results, metrics)
                               if results is not None and metrics else None, why))
    body = ["<style>#top td:last-child, #top th:last-child { text-align: left; font-size: 12px; }"
            " #top code { white-space: pre-wrap; } #verdict { max-width: 60em; }"
            " #folds { font-size: 12px; } #folds td:nth-child(7) { text-align: left; }</style>",
            f"<header><h1>{escape(h.name or h.run_id)} · sweep</h1>"
            f"<p class='id'>{escape(h.run_id)}</p>{_facts(view)}</header>"]
    folds = _frame(folder / FOLDS) if (folder / FOLDS).exists() else None
    if folds is not None:
        oos = _frame(folder / OOS_EQUITY)
        body.append("<h2>Walk-forward: in-sample vs out-of-sample</h2>"
                    f"<section>{figure_block('folds', folds_figure(folds, view['objective']))}"
                    "</section><section>"
                    + figure_block("oos-equity", oos_figure(oos) if oos is not None else None,
                                   "no out-of-sample equity")
                    + "</section>" + _folds_table(folds))
    else:
        body.append(f"<h2>Best configs</h2>{_top_table(view)}")
    if folds is None:
        body.append("<h2>Overfitting statistics</h2>" + _overfitting(view))
    body.append("<h2>Across the grid</h2>"
                + "\n".join(f"<section>{b}</section>" for b in blocks))
    return page(f"{h.name or h.run_id} · sweep · {h.status}", js_tag, "".join(body), _footer())
