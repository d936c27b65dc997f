"""The pages of an event study: ``report.html`` and the ``runs show`` panel."""

from __future__ import annotations

from html import escape
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from papertrade.report.html_parts import page
from papertrade.report.study import (
    StudyView,
    events_table,
    load_study,
    num,
    paths_figure,
    pct,
    placebo_figure,
    summary_table,
)

STUDY_CSS = """
.verdict { background:#f6f7fb; border-left: 4px solid #c2410c; padding: 10px 14px;
  border-radius: 4px; max-width: 980px; }
.timing { color: var(--muted); max-width: 980px; }
small { color: var(--muted); }
table[id^="summary-"] td, table[id^="events-"] td, table[id^="summary-"] th { white-space: nowrap; }
table[id^="summary-"] td:last-child { white-space: normal; text-align: left; min-width: 24em;
  font-size: 12px; color: var(--muted); }
"""


def render_study_report(run_dir: Path, js_tag: str) -> str:
    """The whole report page of the study folder at ``run_dir``."""
    from papertrade.report.html import _footer, figure_block

    view = load_study(run_dir)
    h = view.header
    study = view.study
    start, end = h.period
    facts = [("status", h.status), ("strategy", h.text("strategy")),
             ("period", f"{start} → {end}"), ("events", str(study.get("events", "?"))),
             ("decision times", str(study.get("decision_times", "?"))),
             ("horizons", ", ".join(f"{x} d" for x in study.get("horizons", []))),
             ("placebos", f"{study.get('placebos', '?'):,}" if isinstance(
                 study.get("placebos"), int) else "?"),
             ("bootstrap", str(study.get("bootstrap", "?"))), ("seed", str(study.get("seed"))),
             ("created", h.text("created_at")), ("config", h.text("config_file")),
             ("git", h.text("git_sha"))]
    cells = "".join(f"<div><span>{escape(k)}</span>{escape(v)}</div>" for k, v in facts if v)
    notes = "".join(f"<li>{escape(n)}</li>" for n in view.notes)
    body = [f"<style>{STUDY_CSS}</style>",
            f"<header><h1>Event study: {escape(h.name or h.run_id)}</h1>"
            f"<p class='id'>{escape(h.run_id)}</p><div class='facts'>{cells}</div>"
            + (f'<ul id="notes" class="notes">{notes}</ul>' if notes else "") + "</header>",
            "<h2>How returns are measured</h2>"
            f"<p class='timing' id='timing'>{escape(str(study.get('timing', '')))}</p>"]
    kinds = view.kinds
    if not kinds:
        body.append('<p class="missing" id="no-kinds">no event kind studied: see the notes</p>')
    for kind in kinds:
        slug = "".join(c if c.isalnum() else "-" for c in kind)[:40] or "event"
        verdict = view.verdicts.get(kind, "no verdict recorded")
        events = 0 if view.events is None else int((view.events["event"] == kind).sum())
        nothing = f"no '{kind}' events in the window: nothing to draw"
        body += [
            f"<h2>After each '{escape(kind)}'</h2>",
            f"<p class='verdict' id='verdict-{slug}'>{escape(verdict)}</p>",
            f"<section>{figure_block(f'paths-{slug}', paths_figure(view, kind) if events else None, nothing)}</section>",  # noqa: E501
            f"<section>{figure_block(f'placebo-{slug}', placebo_figure(view, kind) if events else None, nothing)}</section>",  # noqa: E501
            summary_table(view, kind),
            events_table(view, kind),
        ]
    title = f"{h.name or h.run_id} · study · {h.status}"
    return page(title, js_tag, "\n".join(body), _footer())


def render_study_show(path: Path, console: Console) -> None:
    """``runs show`` of a study: facts, the verdicts, the headline symbol's table per kind."""
    view = load_study(path)
    h = view.header
    start, end = h.period
    console.print(Text(f"{h.run_id}  study  {h.name}  {start} → {end}  {h.status}",
                       style="bold"))
    study = view.study
    console.print(Text(
        f"strategy {h.text('strategy')}; {study.get('events', '?')} events on "
        f"{study.get('decision_times', '?')} decision times; placebos "
        f"{study.get('placebos', '?')}, bootstrap {study.get('bootstrap', '?')}, "
        f"seed {study.get('seed', '?')}"))
    for note in view.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    primary = str(study.get("primary", ""))
    for kind in view.kinds:
        console.print(Text(f"\n[{kind}] {view.verdicts.get(kind, '')}"))
        if view.summary is None:
            continue
        rows = view.summary[(view.summary["event"] == kind)
                            & (view.summary["symbol"] == primary)]
        grid = Table(title=f"{primary} after '{kind}'", title_justify="left")
        for name in ("horizon", "complete", "mean", "median", "any day", "effect", "CI",
                     "HAC t", "placebo p"):
            grid.add_column(name, justify="right")
        for _, r in rows.iterrows():
            grid.add_row(*(Text(c) for c in (
                f"{int(r['horizon'])} d", num(r["complete"], ".0f"), pct(r["mean"]),
                pct(r["median"]), pct(r["any_mean"]), pct(r["effect"]),
                f"[{pct(r['ci_low'])}, {pct(r['ci_high'])}]", num(r["hac_t"]),
                num(r["placebo_p"], ".3f"))))
        console.print(grid)
    console.print(Text(f"\nfiles: {path}"))


def is_study(view_or_path: StudyView | Path) -> bool:
    """Whether a run folder is an event study (manifest mode ``study``)."""
    from papertrade.runfolder import read_header

    header = view_or_path.header if isinstance(view_or_path, StudyView) else read_header(
        view_or_path)
    return header.mode == "study"
