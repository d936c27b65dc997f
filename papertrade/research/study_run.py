"""``papertrade study``'s composition: config -> the backtest's history and decisions -> study
-> run folder ``runs/<UTC>-<name>-study-<hash>/`` (docs in the README, "Does the idea hold?").

Files: ``events.csv`` (one row per event), ``summary.csv`` (one row per event kind, symbol and
horizon), ``paths.csv`` and ``placebos.csv`` (what the report's charts draw), ``config.yaml``,
``manifest.json`` (``mode: study``, the options, the timing rule, the verdicts) and
``report.html``. Everything is computed before the folder is created, so bad input leaves
nothing behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from papertrade.config import LoadedConfig
from papertrade.config_effective import digested, effective_config
from papertrade.errors import ConfigError
from papertrade.report import write_report_or_note
from papertrade.research.study import StudyData, StudyOptions, compute_study
from papertrade.research.study_verdict import verdict
from papertrade.runfolder import (
    create_run_folder,
    finish_manifest,
    manifest,
    run_digest,
    write_config,
    write_csv,
    write_json,
)
from papertrade.runfolder.layout import STUDY_EVENTS, STUDY_PATHS, STUDY_PLACEBOS, STUDY_SUMMARY
from papertrade.runner import build_strategy, load_history
from papertrade.strategies.base import checked_decide
from papertrade.strategies.loading import source_identity
from papertrade.util.secrets import secret_values
from papertrade.util.text import did_you_mean

TIMING = (
    "Forward returns run from the decision time t (the close of the deciding bar): entry at "
    "the open of each symbol's first bar opening at or after t (crypto: the next day's bar, "
    "opening exactly at t, where the backtest fills; a US index: the next session's open), "
    "exit at the close of its last bar closing at or before t + H calendar days. A horizon "
    "running past the data is incomplete (left empty, never extrapolated). The forward maximum "
    "drawdown is the deepest fall of the daily closes below their running peak (entry "
    "included) from entry to exit."
)
"""The timing rule in one paragraph (:mod:`.study_events` states it at length)."""

STUDY_HEADER = (
    "The effective configuration of this event study: the config file with its --set\n"
    "overrides, --start/--end and every default applied; paths absolute. Repeat the study with\n"
    "  papertrade study <this file>  (with the options recorded in manifest.json: study)\n"
    "A value shown as *** is a masked secret: set it again to run this file.\n"
)


@dataclass(frozen=True)
class StudyResult:
    """Where a study was written, and what it found."""

    folder: Path
    data: StudyData
    verdicts: dict[str, str]


def run_study(loaded: LoadedConfig, options: StudyOptions, *, start: dt.date | None = None,
              end: dt.date | None = None, strategy_paths: Sequence[Path] = (),
              report: bool = True) -> StudyResult:
    """Study the configured strategy's events on its backtest history; write the run folder."""
    run = loaded.run
    if start and end and start > end:
        raise ConfigError(loaded.path, "--start", f"{start} is after --end {end}",
                          "pass a start before the end")
    strategy = build_strategy(loaded, strategy_paths)
    history, origins = load_history(loaded, strategy, start, end)
    decisions = checked_decide(strategy, history)
    seen = sorted({str(e) for e in decisions.events.fillna("") if e})
    if options.event is not None and options.event not in seen:
        hint = did_you_mean(options.event[:100], seen)
        if hint:
            raise ConfigError("command line", "--event", f"no '{options.event[:60]}' events",
                              hint)
    symbols = list(dict.fromkeys([*strategy.traded_symbols(), *strategy.benchmark_symbols()]))
    data = compute_study(history, decisions, symbols, options)
    labels = history.labels()
    span = f"from {labels[0]:%Y-%m-%d} to {labels[-1]:%Y-%m-%d}"
    verdicts = {k: verdict(data.summary, k, symbols[0], span) for k in data.kinds}
    for note in data.notes:
        kind = note.split("'")[1]
        if kind in verdicts:
            verdicts[kind] += f" Note: {note}."
    effective = effective_config(loaded, strategy.params.model_dump(mode="json"),
                                 start or run.data.start or labels[0].date(),
                                 end or run.data.end or labels[-1].date())
    code = source_identity(type(strategy))
    digest = run_digest({**digested(effective), "strategy_code": code,
                         "study": _options_json(options)}, origins)
    folder = create_run_folder(run.runs_dir, run.name, "study", digest)
    secrets = secret_values(loaded.raw)
    meta = manifest(
        folder, name=run.name, mode="study", strategy=run.strategy.name,
        config_file=loaded.path, quote=run.broker.quote,
        signal=getattr(strategy.params, "signal", None),
        start=f"{labels[0]:%Y-%m-%d}", end=f"{labels[-1]:%Y-%m-%d}", data=origins,
        study={**_options_json(options), "kinds": data.kinds, "symbols": symbols,
               "events": len(data.events), "decision_times": len(history.clock),
               "primary": symbols[0], "timing": TIMING, "seen_kinds": seen,
               "notes": data.notes},
        verdict=verdicts, strategy_code=code, secrets=secrets,
    )
    write_json(folder / "manifest.json", meta)
    try:
        write_config(folder, effective, secrets=secrets, header=STUDY_HEADER)
        write_csv(folder / STUDY_EVENTS, data.events)
        write_csv(folder / STUDY_SUMMARY, data.summary)
        write_csv(folder / STUDY_PATHS, data.paths)
        write_csv(folder / STUDY_PLACEBOS, data.placebos)
    except BaseException as exc:
        finish_manifest(folder, meta, "failed", error=f"{type(exc).__name__}: {exc}",
                        secrets=secrets)
        raise
    finish_manifest(folder, meta, "finished", secrets=secrets)
    if report:
        write_report_or_note(folder)
    return StudyResult(folder, data, verdicts)


def _options_json(options: StudyOptions) -> dict[str, object]:
    out = asdict(options)
    out["horizons"] = sorted(set(options.horizons))
    return out
