"""``report.html``: one self-explaining page per run, readable offline from ``file://``.

plotly.js (4.8 MB) is copied once per runs folder to ``<runs_dir>/_assets/plotly-<v>.min.js``
and referenced relatively (``../_assets/...``), so 500 reports do not carry 500 copies; a
report meant to travel alone is written with ``inline_js=True``. Reports are written inside
the runs folder only (:mod:`.placement`). If the asset is missing
(a run folder copied elsewhere) the page says so and how to fix it, instead of going blank.
Figures are embedded as JSON and drawn by a small loader: no network access of any kind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from html import escape
from pathlib import Path
from typing import Final

import plotly
import plotly.graph_objects as go

from papertrade.errors import RunFolderError
from papertrade.report import charts
from papertrade.report.details import RunDetails, read_details, trades_table
from papertrade.report.formatting import (
    BENCHMARK_KEYS,
    LABELS,
    arrow,
    fmt_in,
    fmt_inputs,
    fmt_money,
    fmt_pct,
    fmt_price,
    fmt_qty,
    fmt_weights,
    label,
)
from papertrade.report.frames import RunFrames, load_frames
from papertrade.report.html_parts import page, table
from papertrade.report.placement import report_target, subfolder
from papertrade.runfolder import read_header
from papertrade.runfolder.layout import ASSETS_DIR
from papertrade.runfolder.settings import (
    data_origins,
    differing,
    read_settings,
    run_labels,
    sections,
    value_of,
)
from papertrade.util.text import one_line

MAX_TRADES: Final = 2000


def plotly_js_source() -> Path:
    """The minified plotly.js shipped inside the installed plotly package."""
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def plotly_js_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return str(get_plotlyjs_version())


def ensure_asset(assets_dir: Path) -> Path:
    """Copy plotly.min.js into ``assets_dir`` once (atomically, safe for parallel runs)."""
    source = plotly_js_source()
    target = assets_dir / f"plotly-{plotly_js_version()}.min.js"
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return target
    assets_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=assets_dir, prefix=".plotly-", suffix=".tmp")
    os.close(fd)
    shutil.copyfile(source, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


def script_tag(html_path: Path, asset_root: Path, inline: bool) -> str:
    """``<script>`` for plotly.js: inlined, or the shared asset in ``asset_root/_assets``."""
    if inline:
        code = plotly_js_source().read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>{code}</script>"
    asset = ensure_asset(subfolder(asset_root, ASSETS_DIR))
    rel = os.path.relpath(asset, html_path.parent.resolve()).replace(os.sep, "/")
    return f'<script src="{escape(rel)}"></script>'


def figure_block(key: str, fig: go.Figure | None, missing: str = "") -> str:
    """A chart container plus its figure JSON, or a note saying why there is no chart."""
    if fig is None:
        return f'<div class="missing" id="chart-{key}-missing">{escape(missing)}</div>'
    spec = fig.to_json().replace("<", "\\u003c")
    return (f'<div class="chart" id="chart-{key}" data-figure="fig-{key}"></div>\n'
            f'<script type="application/json" id="fig-{key}">{spec}</script>')


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file and a rename (a link there is replaced,
    never followed)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- sections


def metrics_section(d: RunDetails) -> str:
    h = d.header
    metrics = h.metrics or {}
    if not metrics:
        return '<p class="missing" id="metrics-missing">no metrics.json: see the notes</p>'
    keys = [k for k in LABELS if k in metrics]
    keys += [k for k in metrics if k not in LABELS and not isinstance(metrics[k], dict)]
    rows = [
        f'<tr data-key="{escape(k)}" data-value="{escape(json.dumps(metrics[k]))}">'
        f"<th>{escape(label(k))}</th><td>{escape(fmt_in(metrics, k, h.quote))}</td></tr>"
        for k in keys
    ]
    out = f'<table id="metrics" class="kv">{"".join(rows)}</table>'
    bench = metrics.get("benchmarks")
    if isinstance(bench, dict) and bench:
        head = "<tr><th></th>" + "".join(f"<th>{escape(label(k))}</th>"
                                         for k in BENCHMARK_KEYS) + "</tr>"
        body = ["<tr class='self'><th>this run</th>" + "".join(
            f"<td>{escape(fmt_in(metrics, k))}</td>" for k in BENCHMARK_KEYS
        ) + "</tr>"]
        short = bool(metrics.get("not_annualised"))
        for name, values in bench.items():
            values = values if isinstance(values, dict) else {}
            cells = "".join(
                f'<td data-key="benchmarks.{escape(name)}.{k}" '
                f'data-value="{escape(json.dumps(values.get(k)))}">'
                f"{escape(fmt_in(values, k, short=short))}</td>"
                for k in BENCHMARK_KEYS
            )
            body.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
        out += f'<table id="benchmarks">{head}{"".join(body)}</table>'
    return f'<div class="metrics">{out}</div>'


def live_facts(d: RunDetails) -> list[tuple[str, str]]:
    """A live run's state for the header: running or stopped (and why), and the time of its
    last decision; nothing for a backtest. The report is rewritten after every decision."""
    h = d.header
    if h.mode == "backtest":
        return []
    reason = h.text("stop_reason")
    state = {"running": "running", "finished": "stopped"}.get(h.status, h.status)
    text = f"{state}: {reason}" if state == "stopped" and reason else state
    last = str(d.decisions[0].get("time") or "") if d.decisions else ""
    return [("live", f'<span id="live-state" class="live {escape(state)}">{escape(text)}</span>'),
            ("last decision", f'<span id="last-decision">{escape(last or "none yet")}</span>')]


def facts_section(d: RunDetails) -> str:
    h = d.header
    start, end = h.period
    versions = h.get("versions")
    facts = [
        ("status", f'<span class="status {escape(h.status)}">{escape(h.status)}</span>'),
        *live_facts(d),
        ("mode", escape(h.mode)), ("name", escape(h.name)),
        ("strategy", escape(h.text("strategy"))),
        ("period", escape(f"{start} → {end}") if start or end else ""),
        ("signal", escape(h.text("signal"))), ("quote", escape(h.quote)),
        ("created", escape(h.text("created_at"))), ("finished", escape(h.text("finished_at"))),
        ("config", escape(h.text("config_file"))), ("git", escape(h.text("git_sha"))),
        ("versions", escape(", ".join(f"{k} {v}" for k, v in versions.items()))
         if isinstance(versions, dict) else ""),
    ]
    cells = "".join(f"<div><span>{k}</span>{v}</div>" for k, v in facts if v)
    notes = "".join(f"<li>{escape(n)}</li>" for n in d.notes)
    notes_html = f'<ul id="notes" class="notes">{notes}</ul>' if notes else ""
    return f'<div class="facts">{cells}</div>{notes_html}'


def configuration_section(d: RunDetails) -> str:
    """Every setting of the run's config.yaml by section (strategy parameters, data, broker,
    risk, live), and the data each symbol came from with its first and last bar."""
    settings, problem = read_settings(d.header.path)
    parts = []
    for name, rows in sections(settings):
        prefix = "" if name == "other" else f"{name}."
        cells = "".join(f'<tr data-key="{escape(prefix + key)}"><th>{escape(key)}</th>'
                        f"<td>{escape(value)}</td></tr>" for key, value in rows)
        parts.append(f'<table class="kv settings" id="settings-{escape(name)}">'
                     f"<caption>{escape(name)}</caption>{cells}</table>")
    if not parts:
        parts.append(f'<p class="missing" id="settings-missing">no settings: '
                     f"{escape(problem or 'config.yaml is empty')}</p>")
    origins = data_origins(d.header.manifest)
    data_rows = [[escape(o.symbol), escape(o.source), escape(o.first), escape(o.last),
                  escape(o.rows)] for o in origins]
    data = table("data-origins", ["symbol", "source", "first bar", "last bar", "bars"],
                 data_rows,
                 "data: each symbol's source and its last bar", empty="not recorded")
    return f'<div class="config">{"".join(parts)}{data}</div>'


def decisions_section(d: RunDetails) -> str:
    rows = [[escape(str(r.get("date", ""))), escape(arrow(str(r.get("reason", "")))),
             escape(fmt_weights(r.get("targets"))), escape(fmt_inputs(r.get("inputs"), 8)),
             "yes" if r.get("sent") else "no"] for r in d.decisions]
    total = f" of {d.decisions_total}" if d.decisions_total is not None else ""
    caption = (f"sent rebalances and the latest decision, newest first ({len(rows)}{total}; "
               f"{d.decisions_source})")
    return table("decisions", ["date", "reason", "targets", "inputs", "sent"], rows, caption)


def positions_section(d: RunDetails) -> str:
    rows = [[escape(str(p["symbol"])), fmt_qty(p.get("qty")), fmt_price(p.get("price")),
             fmt_money(p.get("value")), fmt_pct(p.get("weight"))] for p in d.positions]
    what = "current" if d.header.status == "running" else "final"
    caption = f"{what} positions at {d.positions_time or '?'} ({d.positions_source})"
    return table("positions", ["symbol", "qty", "price", "value", "weight"], rows, caption)


def problems_section(d: RunDetails) -> str:
    rows = [[escape(str(p["time"])), escape(str(p["level"])), escape(str(p["kind"])),
             escape(str(p["message"]))] for p in d.problems]
    return table("problems", ["time", "level", "kind", "message"], rows,
                 "errors and rejections, newest first", empty="none journaled")


def trades_section(d: RunDetails) -> str:
    rows, source = trades_table(d.header.path)
    shown = rows[-MAX_TRADES:]
    body = [[escape(str(t.get("time") or t.get("date") or "")), escape(str(t.get("symbol", ""))),
             f'<span class="{escape(str(t.get("side", "")))}">{escape(str(t.get("side", "")))}'
             "</span>",
             fmt_qty(t.get("qty")), fmt_price(t.get("price")), fmt_money(t.get("notional")),
             fmt_money(t.get("fee"))] for t in reversed(shown)]
    more = f"; the latest {len(shown)} of {len(rows)}" if len(rows) > len(shown) else ""
    columns = ["time", "symbol", "side", "qty", "price", "notional", "fee"]
    if any(t.get("market_price") for t in shown):  # sandbox fills beside the real market
        columns += ["real price", "gap (bps)"]
        for cells, t in zip(body, reversed(shown), strict=True):
            gap = t.get("market_gap_bps")
            cells += [fmt_price(float(t["market_price"])) if t.get("market_price") else "",
                      f"{float(gap):+.1f}" if gap else ""]
    return table("trades", columns, body,
                 f"{len(rows)} fills, newest first ({source or 'none'}{more})")


def charts_section(d: RunDetails, frames: RunFrames) -> str:
    h = d.header
    eq = frames.equity
    why = "no equity curve: " + ("; ".join(n for n in d.notes if "equity" in n)
                                 or "equity.csv and the journal hold no marks")
    blocks = [
        figure_block("equity", charts.equity_figure(eq, frames.benchmarks, h.quote)
                     if eq is not None else None, why),
        figure_block("drawdown", charts.drawdown_figure(eq, frames.benchmarks)
                     if eq is not None else None, why),
        figure_block("allocation", charts.allocation_figure(frames.weights, frames.weights_source)
                     if frames.weights is not None else None,
                     "no allocation: weights.csv and journal positions are missing"),
        figure_block("signal", charts.signal_figure(frames.signals, h.text("signal"))
                     if frames.signals is not None else None,
                     "no signal chart: signals.csv is missing or has no numeric column"),
        figure_block("monthly", charts.monthly_figure(eq) if eq is not None else None, why),
    ]
    return "\n".join(f"<section>{b}</section>" for b in blocks)


def render_report(run_dir: Path, js_tag: str) -> str:
    """The whole report page for the run folder at ``run_dir`` (an event study and a sweep
    have their own)."""
    mode = read_header(run_dir).mode
    if mode == "study":
        from papertrade.report.study_page import render_study_report

        return render_study_report(run_dir, js_tag)
    if mode == "sweep":
        from papertrade.report.sweep_html import render_sweep_report

        return render_sweep_report(run_dir, js_tag)
    d = read_details(run_dir)
    frames = load_frames(d.header)
    d.notes.extend(n for n in frames.notes if n not in d.notes)
    h = d.header
    title = f"{h.name or h.run_id} · {h.mode} · {h.status}"
    body = (
        f"<header><h1>{escape(h.name or h.run_id)}</h1><p class='id'>{escape(h.run_id)}</p>"
        f"{facts_section(d)}</header>"
        f"<h2>Metrics</h2>{metrics_section(d)}"
        f"<h2>Configuration</h2>{configuration_section(d)}"
        f"<h2>Charts</h2>{charts_section(d, frames)}"
        f"<h2>Positions</h2>{positions_section(d)}"
        f"<h2>Why it traded</h2>{decisions_section(d)}"
        f"<h2>Errors and rejections</h2>{problems_section(d)}"
        f"<h2>Trades</h2>{trades_section(d)}"
    )
    return page(title, js_tag, body, _footer())


def _footer() -> str:
    from papertrade import __version__

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return (f"written {now} by papertrade {escape(__version__)} "
            f"with plotly.js {escape(plotly_js_version())}; works offline")


def write_report(run_dir: Path, *, inline_js: bool = False,
                 runs_dir: Path | None = None) -> Path:
    """Write the report of ``run_dir`` inside ``runs_dir`` and return its path.

    ``runs_dir`` defaults to the folder holding ``run_dir``. A run of ``runs_dir`` gets
    ``report.html`` in its folder; any other folder is only read and its report goes to
    ``<runs_dir>/_reports/<name>.html``. Called by the backtest runner after the run's files
    are final; raises :class:`RunFolderError` when ``run_dir`` is not a folder or the report
    cannot be written there.
    """
    if not run_dir.is_dir():
        raise RunFolderError(
            f"no run folder at '{one_line(str(run_dir), 120)}'; pass a run folder or a run id"
        )
    runs = run_dir.parent if runs_dir is None else runs_dir
    target = report_target(run_dir, runs)
    try:
        write_atomic(target, render_report(run_dir, script_tag(target, runs, inline_js)))
    except OSError as exc:
        raise RunFolderError(one_line(
            f"cannot write '{one_line(str(target), 120)}': {exc.strerror or exc}; "
            "check the folder's permissions"
        )) from None
    return target


def write_compare(run_dirs: list[Path], out: Path, asset_root: Path, *,
                  inline_js: bool = False) -> Path:
    """One page: every run's growth of 1 on one chart, metrics side by side."""
    headers = [read_header(p) for p in run_dirs]
    settings = [read_settings(p)[0] for p in run_dirs]
    labels = run_labels(headers, settings)
    curves = {}
    for h, name in zip(headers, labels, strict=True):
        frames = load_frames(h)
        if frames.equity is not None:
            curves[name] = frames.equity
    keys = [k for k in LABELS if any(k in (h.metrics or {}) for h in headers)]
    head = ["metric", *(f'<span class="label">{escape(name)}</span><br>'
                        f'<span class="id">{escape(h.run_id)}</span>'
                        for h, name in zip(headers, labels, strict=True))]
    rows = [["status", *(escape(h.status) for h in headers)]]
    rows += [[escape(label(k)), *(escape(fmt_in(h.metrics or {}, k, h.quote))
                                  if k in (h.metrics or {}) else "" for h in headers)]
             for k in keys]
    diff = differing(settings)
    diff_rows = [[escape(key), *(escape(value_of(one, key)) for one in settings)]
                 for key in diff]
    body = (f"<header><h1>Comparing {len(headers)} runs</h1></header>"
            + table("compare-settings", ["setting", *head[1:]], diff_rows,
                    "settings that differ", empty="none: the runs share every setting")
            + f"<section>{figure_block('compare', charts.compare_figure(curves))}</section>"
            f"{table('compare-metrics', head, rows, 'metrics side by side')}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, page("papertrade: compare runs",
                               script_tag(out, asset_root, inline_js), body, _footer()))
    except OSError as exc:
        raise RunFolderError(one_line(
            f"cannot write '{one_line(str(out), 120)}': {exc.strerror or exc}; "
            "pass --out to a writable folder"
        )) from None
    return out

