"""Rich tables for ``runs list``, ``runs show`` and ``runs compare``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from papertrade.report.columns import GAP, Column, layout
from papertrade.report.details import RunDetails
from papertrade.report.formatting import (
    BENCHMARK_KEYS,
    LABELS,
    arrow,
    fmt_inputs,
    fmt_metric,
    fmt_money,
    fmt_pct,
    fmt_price,
    fmt_qty,
    fmt_weights,
    label,
)
from papertrade.runfolder import RunHeader
from papertrade.runfolder.settings import (
    data_origins,
    differing,
    last_bars,
    run_labels,
    short_key,
    value_of,
)

STATUS_STYLE: Final = {
    "finished": "green", "running": "bold cyan", "crashed": "bold red",
    "failed": "red", "broken": "bold magenta",
}


def _add(table: Table, *cells: str | Text, style: str | None = None) -> None:
    """``add_row`` with every text cell taken literally (``[...]`` is data, not markup)."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells), style=style)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def _period(header: RunHeader) -> str:
    start, end = header.period
    if not start and not end:
        return ""
    return f"{start or '?'} → {end or 'latest'}"


def _note(header: RunHeader) -> str:
    if header.reason:
        return header.reason
    return header.notes[0] if header.notes else ""


#: ``runs list``'s columns; at a narrow width the least useful go first (the name and mode
#: are part of the run id)
LIST_COLUMNS: Final = (
    Column("run id", 100, wrap_to=30), Column("mode", 20), Column("name", 45, wrap_to=12),
    Column("period", 55, wrap_to=12), Column("status", 80), Column("return", 70, right=True),
    Column("max DD", 60, right=True), Column("Sharpe", 50, right=True),
    Column("trades", 30, right=True), Column("note", 10, wrap_to=20),
)


def list_rows(headers: Sequence[RunHeader],
              shown: Sequence[tuple[str, Sequence[Mapping[str, Any]]]] = ()) -> list[list[str]]:
    """The cells of ``runs list``, one row per run, as plain text; ``shown``: (setting key,
    each run's settings) of the ``--show`` columns, placed before the note."""
    return [
        [h.run_id, h.mode, h.name, _period(h), h.status,
         _value(h.metrics, "total_return"), _value(h.metrics, "max_drawdown"),
         _value(h.metrics, "sharpe"), _value(h.metrics, "trades"),
         *(value_of(settings[n], key) for key, settings in shown), _note(h)]
        for n, h in enumerate(headers)
    ]


def render_list(headers: Sequence[RunHeader], console: Console, total: int, where: str,
                shown: Sequence[tuple[str, Sequence[Mapping[str, Any]]]] = (),
                width: int | None = None) -> None:
    """The runs table, with a one-line summary of statuses.

    Fitted to ``width`` (default: the console's; ``0``: unlimited, one line per run): the least
    useful columns are dropped first, then long cells wrap inside their column.
    """
    columns = [*LIST_COLUMNS[:-1], *(Column(short_key(k), 65) for k, _ in shown),
               LIST_COLUMNS[-1]]
    rows = list_rows(headers, shown)
    limit = console.width if width is None else (width or None)
    kept, widths, cells = layout(columns, rows, limit)
    status_at = next(i for i, c in enumerate(columns) if c.title == "status")
    text = Text()

    def line(parts: Sequence[Sequence[str]], styles: Sequence[str]) -> None:
        for row in range(max(len(p) for p in parts)):
            for n, (i, width) in enumerate(zip(kept, widths, strict=True)):
                piece = parts[n][row] if row < len(parts[n]) else ""
                last = n == len(kept) - 1
                padded = piece.rjust(width) if columns[i].right else piece.ljust(width)
                cell = padded if columns[i].right else piece
                text.append(cell if last else padded + " " * GAP, styles[i] or None)
            text.append("\n")

    if rows:
        line(cells[0], ["bold"] * len(columns))
    for h, parts in zip(headers, cells[1:], strict=True):
        styles = [""] * len(columns)
        styles[status_at] = STATUS_STYLE.get(h.status, "")
        styles[-1] = "magenta" if h.status == "broken" else "dim"
        line(parts, styles)
    counts: dict[str, int] = {}
    for h in headers:
        counts[h.status] = counts.get(h.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    shown_runs = f"{len(headers)} of {total}" if len(headers) != total else f"{total}"
    console.print(text, no_wrap=True, crop=False, overflow="ignore", soft_wrap=True,
                  highlight=False, end="")
    console.print(Text(f"{shown_runs} run(s) in {where}" + (f": {summary}" if summary else ""),
                       style="dim"), soft_wrap=limit is None, highlight=False)


def _value(metrics: dict[str, Any] | None, key: str, quote: str = "") -> str:
    if metrics is None or key not in metrics:
        return ""
    return fmt_metric(key, metrics[key], quote)


def _kv_table(rows: Sequence[tuple[str, str]], columns: int = 2) -> Table:
    grid = Table.grid(padding=(0, 2))
    for _ in range(columns):
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
    for i in range(0, len(rows), columns):
        cells: list[str] = []
        for key, value in rows[i : i + columns]:
            cells.extend((key, value))
        _add(grid, *cells)
    return grid


def metric_rows(header: RunHeader) -> list[tuple[str, str]]:
    """(label, formatted value) of every scalar in metrics.json, documented ones first."""
    metrics = header.metrics or {}
    keys = [k for k in LABELS if k in metrics]
    keys += [k for k in metrics if k not in LABELS and not isinstance(metrics[k], dict)]
    return [(label(k), fmt_metric(k, metrics[k], header.quote)) for k in keys]


def benchmark_table(header: RunHeader) -> Table | None:
    benchmarks = (header.metrics or {}).get("benchmarks")
    if not isinstance(benchmarks, dict) or not benchmarks:
        return None
    table = Table(title="benchmarks", title_justify="left", box=None, header_style="bold")
    table.add_column("")
    for key in BENCHMARK_KEYS:
        table.add_column(label(key), justify="right")
    _add(table, "this run", *(_value(header.metrics, k) for k in BENCHMARK_KEYS),
                  style="bold")
    for name, values in benchmarks.items():
        values = values if isinstance(values, dict) else {}
        _add(table, str(name), *(fmt_metric(k, values.get(k)) for k in BENCHMARK_KEYS))
    return table


def _header_panel(d: RunDetails) -> Panel:
    h = d.header
    facts: list[tuple[str, str | Text]] = [
        ("status", status_text(h.status)), ("mode", h.mode), ("name", h.name),
        ("strategy", h.text("strategy")), ("period", _period(h)),
        ("created", h.text("created_at")), ("finished", h.text("finished_at")),
        ("config", h.text("config_file")), ("pid", h.text("pid")), ("folder", str(h.path)),
    ]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    for key, value in facts:
        if value:
            _add(grid, key, value)
    return Panel(grid, title=escape(h.run_id), title_align="left", expand=False)


def render_show(d: RunDetails, console: Console) -> None:
    """Everything about one run: facts, notes, metrics, positions, decisions, trades, errors."""
    h = d.header
    console.print(_header_panel(d))
    for note in d.notes:
        console.print(Text.assemble(("note: ", "yellow"), note), highlight=False)
    if h.metrics:
        console.print(Panel(_kv_table(metric_rows(h)), title="metrics", title_align="left",
                            expand=False))
        bench = benchmark_table(h)
        if bench is not None:
            console.print(bench)
    if d.positions or d.positions_source:
        what = "current" if h.status == "running" else "final"
        table = Table(title=f"{what} positions at {escape(d.positions_time or '?')} "
                      f"[dim]({escape(d.positions_source)})[/]", title_justify="left", box=None,
                      header_style="bold")
        for name in ("symbol", "qty", "price", "value", "weight"):
            table.add_column(name, justify="left" if name == "symbol" else "right")
        for p in d.positions:
            _add(table, str(p["symbol"]), fmt_qty(p.get("qty")), fmt_price(p.get("price")),
                          fmt_money(p.get("value")), fmt_pct(p.get("weight")))
        console.print(table)
    data = data_table(d)
    if data is not None:
        console.print(data)
    if d.decisions:
        console.print(decisions_table(d, console.width))
    if d.trades:
        table = Table(title=f"recent trades ({len(d.trades)} of {d.trades_total})",
                      title_justify="left", box=None, header_style="bold")
        for name in ("time", "symbol", "side", "qty", "price", "notional", "fee"):
            table.add_column(name, justify="right" if name in ("qty", "price", "notional",
                                                               "fee") else "left")
        for t in d.trades:
            _add(table, _when(t.get("time") or t.get("date")), str(t.get("symbol", "")),
                          Text(str(t.get("side", "")),
                               style="green" if t.get("side") == "buy" else "red"),
                          fmt_qty(t.get("qty")), fmt_price(t.get("price")),
                          fmt_money(t.get("notional")), fmt_money(t.get("fee")))
        console.print(table)
    if d.problems:
        table = Table(title="errors and rejections", title_justify="left", box=None,
                      header_style="bold red")
        for name in ("time", "level", "kind", "message"):
            table.add_column(name, overflow="fold")
        for p in d.problems:
            _add(table, str(p["time"]), str(p["level"]), str(p["kind"]), str(p["message"]))
        console.print(table)
    elif h.status != "broken":
        console.print("[dim]no errors or rejections journaled[/]")


#: narrower terminals leave the decisions' inputs to the report (they would fold mid-number)
INPUTS_MIN_WIDTH: Final = 110


def decisions_table(d: RunDetails, width: int = 200) -> Table:
    """The latest decisions, one target and one input per line; without the inputs column
    below :data:`INPUTS_MIN_WIDTH` columns."""
    total = f" of {d.decisions_total}" if d.decisions_total is not None else ""
    inputs = width >= INPUTS_MIN_WIDTH
    table = Table(title=f"latest decisions (sent rebalances and the last one; "
                  f"{len(d.decisions)}{total}) [dim]({escape(d.decisions_source)})"
                  f"{'' if inputs else '; inputs: in report.html or a wider terminal'}[/]",
                  title_justify="left", box=None, header_style="bold")
    table.add_column("date", no_wrap=True)
    table.add_column("reason", overflow="fold", ratio=3)
    table.add_column("targets", no_wrap=True)
    if inputs:
        table.add_column("inputs", overflow="fold", style="dim", ratio=2)
    table.add_column("sent")
    for row in d.decisions:
        cells = [str(row.get("date", "")), arrow(str(row.get("reason", ""))),
                 fmt_weights(row.get("targets"), sep="\n")]
        if inputs:
            cells.append(fmt_inputs(row.get("inputs"), sep="\n"))
        _add(table, *cells, "yes" if row.get("sent") else "no")
    return table


def _when(value: Any) -> str:
    """A journal time, short: ``2026-03-02`` at midnight UTC, else ``2026-03-02 14:05``."""
    text = str(value or "")
    if text.endswith(("T00:00:00Z", "T00:00:00+00:00")):
        return text[:10]
    return text[:16].replace("T", " ") if len(text) >= 16 and text[10] == "T" else text


def data_table(d: RunDetails) -> Table | None:
    """The data's last bar per symbol, grouped (stalest first): how fresh the run's data was."""
    groups = last_bars(data_origins(d.header.manifest))
    if not groups:
        return None
    table = Table(title="data (last bar of each symbol's source)", title_justify="left",
                  box=None, header_style="bold")
    table.add_column("last bar", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("symbols")
    for last, source, symbols in groups:
        _add(table, last, source, ", ".join(symbols))
    return table


def settings_table(headers: Sequence[RunHeader],
                   settings: Sequence[Mapping[str, Any]]) -> Table:
    """The settings whose values differ between the runs: key, then each run's value (runs
    headed by number and hash, in the order given)."""
    keys = differing(settings)
    table = Table(title=f"settings that differ ({len(keys)})", title_justify="left", box=None,
                  header_style="bold")
    table.add_column("setting", no_wrap=True)
    for i, h in enumerate(headers, 1):
        table.add_column(Text(f"#{i} …{h.run_id[-8:]}"), overflow="fold")
    for key in keys:
        _add(table, key, *(value_of(one, key) for one in settings))
    if not keys:
        _add(table, Text("none: the runs share every setting", style="dim"),
             *("" for _ in headers))
    return table


def render_compare(headers: Sequence[RunHeader], console: Console,
                   settings: Sequence[Mapping[str, Any]] | None = None) -> None:
    """The settings that differ first (``settings``: each run's, from its config.yaml), then
    the metrics side by side; one column per run, named by what differs."""
    chosen = list(settings) if settings is not None else [{} for _ in headers]
    labels = run_labels(headers, chosen)
    if settings is not None:
        console.print(settings_table(headers, chosen))
    table = Table(box=None, header_style="bold")
    table.add_column("")
    for i, (h, name) in enumerate(zip(headers, labels, strict=True), 1):
        title = Group(Text(f"#{i} {name}", style="bold"), Text(h.mode, style="dim"),
                      Text(h.run_id.split("-")[0] + "…" + h.run_id[-8:], style="dim"))
        table.add_column(title, justify="right")
    _add(table, "status", *(status_text(h.status) for h in headers))
    _add(table, "period", *(_period(h) for h in headers))
    keys = [k for k in LABELS if any(k in (h.metrics or {}) for h in headers)]
    for key in keys:
        _add(table, label(key), *(_value(h.metrics, key, h.quote) for h in headers))
    names: list[str] = []
    for h in headers:
        bench = (h.metrics or {}).get("benchmarks")
        names += [n for n in (bench if isinstance(bench, dict) else {}) if n not in names]
    for name in names:
        row: list[str] = []
        for h in headers:
            bench = (h.metrics or {}).get("benchmarks")
            values = bench.get(name) if isinstance(bench, dict) else None
            row.append(fmt_metric("total_return", values.get("total_return"))
                       if isinstance(values, dict) else "")
        _add(table, f"{name} return", *row)
    console.print(table)
