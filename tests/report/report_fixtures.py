"""Writes run folders exactly as docs/run-folder.md (format 1) describes, from bundled data.

A small stand-in for the backtest runner and the live loop: a RUT breakout signal rotating
between BTC/USDT and ETH/USDT, filled at the next open with fees and slippage, journaled in a
real WAL SQLite file, with CSVs and metrics.json computed here (independently of the report
code, which only displays them). Also builds the damaged folders the reader must survive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from papertrade.data.bars import read_bundled

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE decisions(
  id INTEGER PRIMARY KEY, time TEXT NOT NULL, date TEXT NOT NULL, targets TEXT NOT NULL,
  inputs TEXT NOT NULL, reason TEXT NOT NULL, sent INTEGER NOT NULL);
CREATE TABLE orders(
  id INTEGER PRIMARY KEY, client_order_id TEXT UNIQUE NOT NULL, decision_time TEXT,
  time TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL,
  ref_price REAL, status TEXT NOT NULL, reason TEXT, request TEXT, response TEXT);
CREATE TABLE fills(
  id INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL, time TEXT NOT NULL,
  symbol TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL,
  fee REAL NOT NULL, fee_currency TEXT, trade_id TEXT);
CREATE TABLE equity(time TEXT PRIMARY KEY, date TEXT NOT NULL, equity REAL NOT NULL,
  cash REAL NOT NULL);
CREATE TABLE positions(time TEXT NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL,
  price REAL NOT NULL, value REAL NOT NULL, PRIMARY KEY(time, symbol));
CREATE TABLE events(id INTEGER PRIMARY KEY, time TEXT NOT NULL, level TEXT NOT NULL,
  kind TEXT NOT NULL, message TEXT NOT NULL);
"""

ROOT = Path(__file__).resolve().parents[2]
FLAGSHIP = ROOT / "configs" / "rut_breakout_rotation.yaml"
PAPERTRADE = str(Path(sys.executable).with_name("papertrade"))
SYMBOLS = ("BTC/USDT", "ETH/USDT")
SIGNAL = "RUT"
CASH = 10_000.0
FEE = 0.001
SLIP = 0.0005
LOOKBACK = 20


@dataclass
class FixtureRun:
    """A written run folder, and the open writer connection of a live one."""

    path: Path
    metrics: dict[str, Any]
    writer: sqlite3.Connection | None = None
    manifest: dict[str, Any] = field(default_factory=dict)


def papertrade(*args: str, cwd: Path | None = None,
               columns: int | None = 200) -> subprocess.CompletedProcess[str]:
    """Run the installed ``papertrade`` command line, ``columns`` wide (``None``: COLUMNS
    unset, as a pipe into grep has it)."""
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    if columns is None:
        env.pop("COLUMNS")
    return subprocess.run([PAPERTRADE, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(day: pd.Timestamp, hour: int = 0) -> str:
    return (day + pd.Timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _close_by_day(symbol: str, days: pd.DatetimeIndex) -> pd.Series:
    bars = read_bundled(symbol)
    return bars["close"].reindex(days, method="ffill")


def simulate(start: str, end: str) -> dict[str, Any]:
    """Run the stand-in strategy on bundled bars; everything the files need."""
    bars = {s: read_bundled(s).loc[start:end] for s in SYMBOLS}
    days = bars[SYMBOLS[0]].index
    rut = read_bundled(SIGNAL)
    high = rut["close"].rolling(LOOKBACK).max().shift(1)
    low = rut["close"].rolling(LOOKBACK).min().shift(1)
    sig = pd.DataFrame({"close": rut["close"], "high": high, "low": low}).reindex(
        days, method="ffill"
    )
    close = pd.DataFrame({s: bars[s]["close"] for s in SYMBOLS})
    opens = pd.DataFrame({s: bars[s]["open"] for s in SYMBOLS})
    momentum = close.pct_change(30)
    # plain arrays: label lookups in the loop would dominate the test suite's run time
    col = {s: i for i, s in enumerate(SYMBOLS)}
    closes, opening, moms = close.to_numpy(), opens.to_numpy(), momentum.to_numpy()
    sig_close, sig_high, sig_low = (sig[c].to_numpy() for c in ("close", "high", "low"))
    cash, held, qty = CASH, "", 0.0
    in_market, pending = False, None
    decisions, fills, equity_rows, positions, signals, weights = [], [], [], [], [], []
    for i, day in enumerate(days):
        if pending is not None:  # fill yesterday's decision at today's open
            target, decided = pending
            if held:
                price = opening[i, col[held]] * (1 - SLIP)
                notional = qty * price
                fee = notional * FEE
                cash += notional - fee
                fills.append((day, decided, held, "sell", qty, price, notional, fee))
                qty, held = 0.0, ""
            if target:
                price = opening[i, col[target]] * (1 + SLIP)
                notional = cash / (1 + FEE)
                fee = notional * FEE
                qty = notional / price
                cash = 0.0
                fills.append((day, decided, target, "buy", qty, price, notional, fee))
                held = target
            pending = None
        event, reason = "", ""
        c, h, lo = float(sig_close[i]), float(sig_high[i]), float(sig_low[i])
        mom = moms[i]
        leader = SYMBOLS[int(np.argmax(mom))] if not np.isnan(mom).any() else held
        if not in_market and c > h:
            in_market, event = True, "breakout"
            reason = f"{SIGNAL} close {c:,.2f} > prior high {h:,.2f} -> breakout"
        elif in_market and c < lo:
            in_market, event = False, "exit"
            reason = f"{SIGNAL} close {c:,.2f} < prior low {lo:,.2f} -> exit"
        elif in_market and day.day_of_week == 0 and leader and leader != held:
            event = "rotate"
            reason = (f"{leader} 30d momentum {mom[col[leader]]:.1%} > "
                      f"{held} {mom[col[held]]:.1%} -> rotate")
        else:
            state = "in market" if in_market else "in cash"
            reason = f"{SIGNAL} close {c:,.2f} within [{lo:,.2f}, {h:,.2f}] -> hold [{state}]"
        target = (leader or SYMBOLS[0]) if in_market else ""
        sent = bool(event) and i + 1 < len(days)
        if sent:
            pending = (target, day)
            weights.append((day, {s: 1.0 if s == target else 0.0 for s in SYMBOLS}))
        value = qty * closes[i, col[held]] if held else 0.0
        equity_rows.append((day, cash + value, cash))
        if held:
            positions.append((day, held, qty, float(closes[i, col[held]]), value))
        inputs = {"signal_close": c, "breakout_level": h, "exit_level": lo,
                  "in_market": in_market, "leader": leader}
        decisions.append((day, {target: 1.0} if target else {}, inputs, reason, int(sent)))
        signals.append((day, c, h, lo, in_market, event))
    return {"days": days, "close": close, "decisions": decisions, "fills": fills,
            "equity": equity_rows, "positions": positions, "signals": signals,
            "weights": weights, "rut": rut["close"]}


def compute_metrics(sim: dict[str, Any]) -> dict[str, Any]:
    """metrics.json from the simulated books (periods: 365 bars a year)."""
    eq = pd.Series([e for _, e, _ in sim["equity"]], index=[d for d, _, _ in sim["equity"]])
    rets = eq.pct_change().dropna()
    years = len(eq) / 365
    total = eq.iloc[-1] / eq.iloc[0] - 1
    cagr = (eq.iloc[-1] / eq.iloc[0]) ** (1 / years) - 1
    vol = float(rets.std() * math.sqrt(365))
    downside = float(rets[rets < 0].std() * math.sqrt(365))
    dd = eq / eq.cummax() - 1
    below = (dd < 0).astype(int)
    runs = below.groupby((below == 0).cumsum()).sum()
    fills = sim["fills"]
    pnl: list[float] = []
    entry = 0.0
    for _, _, _, side, _, _, notional, fee in fills:
        entry = notional + fee if side == "buy" else entry
        if side == "sell":
            pnl.append(notional - fee - entry)
    losses = -sum(p for p in pnl if p < 0)
    exposure = float(np.mean([s[4] for s in sim["signals"]]))
    bench = benchmark_frame(sim)
    return {
        "start": eq.index[0].strftime("%Y-%m-%d"), "end": eq.index[-1].strftime("%Y-%m-%d"),
        "bars": len(eq), "start_equity": round(float(eq.iloc[0]), 2),
        "end_equity": round(float(eq.iloc[-1]), 2), "total_return": float(total),
        "cagr": float(cagr), "volatility": vol,
        "sharpe": float(rets.mean() / rets.std() * math.sqrt(365)),
        "sortino": float(rets.mean() * 365 / downside) if downside else None,
        "max_drawdown": float(dd.min()), "max_drawdown_duration_days": int(runs.max()),
        "calmar": float(cagr / abs(dd.min())) if dd.min() < 0 else None,
        "exposure": exposure, "trades": len(fills), "round_trips": len(pnl),
        "win_rate": sum(p > 0 for p in pnl) / len(pnl) if pnl else None,
        "profit_factor": sum(p for p in pnl if p > 0) / losses if losses else None,
        "fees": round(sum(f[7] for f in fills), 2),
        "turnover": float(sum(f[6] for f in fills) / eq.mean()),
        "rebalances": len(sim["weights"]), "rejected_orders": 1,
        "benchmarks": {
            name: {"total_return": float(col.iloc[-1] / col.iloc[0] - 1),
                   "cagr": float((col.iloc[-1] / col.iloc[0]) ** (1 / years) - 1),
                   "max_drawdown": float((col / col.cummax() - 1).min())}
            for name, col in bench.items()
        },
    }


def benchmark_frame(sim: dict[str, Any]) -> pd.DataFrame:
    days = sim["days"]
    btc = sim["close"][SYMBOLS[0]]
    rut = sim["rut"].reindex(days, method="ffill")
    return pd.DataFrame({
        "BTC/USDT buy&hold": CASH * btc / btc.iloc[0],
        "RUT buy&hold": CASH * rut / rut.iloc[0],
    }, index=days)


def _journal(path: Path, sim: dict[str, Any], run_id: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("run_id", run_id), ("format", "1")])
    conn.executemany(
        "INSERT INTO decisions(time, date, targets, inputs, reason, sent) VALUES (?,?,?,?,?,?)",
        [(iso(d, 24), d.strftime("%Y-%m-%d"), json.dumps(t), json.dumps(inp), r, s)
         for d, t, inp, r, s in sim["decisions"]],
    )
    for n, (day, decided, sym, side, qty, price, _notional, fee) in enumerate(sim["fills"]):
        coid = f"pt-{n:05d}"
        conn.execute(
            "INSERT INTO orders(client_order_id, decision_time, time, symbol, side, qty,"
            " ref_price, status) VALUES (?,?,?,?,?,?,?,?)",
            (coid, iso(decided, 24), iso(day), sym, side, qty, price, "filled"),
        )
        conn.execute(
            "INSERT INTO fills(client_order_id, time, symbol, side, qty, price, fee,"
            " fee_currency, trade_id) VALUES (?,?,?,?,?,?,?,?,?)",
            (coid, iso(day), sym, side, qty, price, fee, "USDT", f"t{n}"),
        )
    first = sim["days"][len(sim["days"]) // 2]
    conn.execute(
        "INSERT INTO orders(client_order_id, time, symbol, side, qty, ref_price, status,"
        " reason) VALUES (?,?,?,?,?,?,?,?)",
        ("pt-rej-1", iso(first), "ETH/USDT", "buy", 0.0001, 100.0, "rejected",
         "notional 0.01 USDT below the 5 USDT minimum"),
    )
    conn.executemany(
        "INSERT INTO events(time, level, kind, message) VALUES (?,?,?,?)",
        [(iso(sim["days"][0]), "INFO", "info", "run started"),
         (iso(first), "WARNING", "rejection",
          "order pt-rej-1 rejected: notional 0.01 USDT below the 5 USDT minimum"),
         (iso(first, 1), "WARNING", "retry", "fetch_ticker timed out; retry 1/5 in 2 s")],
    )
    conn.executemany("INSERT INTO equity VALUES (?,?,?,?)",
                     [(iso(d, 24), d.strftime("%Y-%m-%d"), e, c) for d, e, c in sim["equity"]])
    conn.executemany("INSERT INTO positions VALUES (?,?,?,?,?)",
                     [(iso(d, 24), s, q, p, v) for d, s, q, p, v in sim["positions"]])
    conn.execute("COMMIT")
    return conn


def _csvs(folder: Path, sim: dict[str, Any]) -> None:
    day = "%Y-%m-%d"
    eq = pd.DataFrame([(d.strftime(day), e) for d, e, _ in sim["equity"]],
                      columns=["date", "equity"])
    eq.to_csv(folder / "equity.csv", index=False)
    bench = benchmark_frame(sim)
    bench.index = bench.index.strftime(day)
    bench.rename_axis("date").to_csv(folder / "benchmarks.csv")
    w = pd.DataFrame([{"date": d.strftime(day), **t} for d, t in sim["weights"]],
                     columns=["date", *SYMBOLS])
    w.to_csv(folder / "weights.csv", index=False)
    trades = pd.DataFrame(
        [(iso(d), d.strftime(day), s, side, q, p, n, f, "USDT", f"pt-{i:05d}")
         for i, (d, _, s, side, q, p, n, f) in enumerate(sim["fills"])],
        columns=["time", "date", "symbol", "side", "qty", "price", "notional", "fee",
                 "fee_currency", "client_order_id"],
    )
    trades.to_csv(folder / "trades.csv", index=False)
    sig = pd.DataFrame(
        [(d.strftime(day), c, h, lo, int(m), e) for d, c, h, lo, m, e in sim["signals"]],
        columns=["date", "signal_close", "breakout_level", "exit_level", "in_market", "event"],
    )
    sig.to_csv(folder / "signals.csv", index=False)


def write_run(
    runs_dir: Path,
    *,
    start: str = "2018-01-01",
    end: str = "2026-03-03",
    mode: str = "backtest",
    status: str = "finished",
    pid: int = 0,
    created: dt.datetime | None = None,
    name: str = "rut-breakout-rotation",
    keep_writer: bool = False,
) -> FixtureRun:
    """A complete run folder; ``keep_writer`` returns the journal's writer still open."""
    created = created or dt.datetime(2026, 11, 21, 10, 15, tzinfo=dt.UTC)
    config = (f"name: {name}\nstrategy:\n  name: rut_breakout_rotation\n"
              f"data:\n  start: {start}\n  end: {end}\n")
    digest = hashlib.sha256(f"{config}{mode}".encode()).hexdigest()[:8]
    run_id = f"{created:%Y%m%dT%H%M%SZ}-{name}-{mode}-{digest}"
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    sim = simulate(start, end)
    metrics = compute_metrics(sim)
    manifest = {
        "format": 1, "run_id": run_id, "name": name, "mode": mode,
        "strategy": "rut_breakout_rotation", "status": status,
        "error": "BrokerUnavailable: exchange down" if status == "failed" else None,
        "pid": pid or 0, "created_at": f"{created:%Y-%m-%dT%H:%M:%SZ}",
        "finished_at": None if status == "running" else f"{created:%Y-%m-%dT%H:%M:%SZ}",
        "start": start, "end": end, "config_file": "configs/rut_breakout_rotation.yaml",
        "quote": "USDT", "signal": SIGNAL,
        "versions": {"papertrade": "0.1.0", "python": "3.11.7", "pandas": pd.__version__},
        "git_sha": None,
        "data": {s: {"source": "bundled", "rows": 0, "sha": "0" * 16} for s in (*SYMBOLS, "RUT")},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (folder / "config.yaml").write_text(config)
    (folder / "run.log").write_text(f"{created:%Y-%m-%d %H:%M:%S} | INFO | run started\n")
    conn = _journal(folder / "journal.sqlite", sim, run_id)
    _csvs(folder, sim)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if keep_writer:
        return FixtureRun(folder, metrics, conn, manifest)
    conn.close()
    return FixtureRun(folder, metrics, None, manifest)


def write_broken_runs(runs_dir: Path) -> dict[str, str]:
    """Damaged folders -> the reason ``runs list`` must give (a substring of it)."""
    cases: dict[str, str] = {}
    empty = runs_dir / "20260101T000000Z-empty-backtest-00000000"
    empty.mkdir(parents=True)
    cases[empty.name] = "manifest.json missing"
    half = runs_dir / "20260102T000000Z-half-backtest-00000001"
    half.mkdir()
    (half / "manifest.json").write_text('{"format": 1, "run_id": "20260102T0000')
    cases[half.name] = "not valid JSON"
    blank = runs_dir / "20260103T000000Z-blank-backtest-00000002"
    blank.mkdir()
    (blank / "manifest.json").write_text("")
    cases[blank.name] = "empty"
    future = runs_dir / "20260104T000000Z-future-backtest-00000003"
    future.mkdir()
    (future / "manifest.json").write_text(json.dumps({"format": 99, "status": "finished"}))
    cases[future.name] = "upgrade papertrade"
    nometrics = runs_dir / "20260105T000000Z-nometrics-backtest-00000004"
    nometrics.mkdir()
    (nometrics / "manifest.json").write_text(json.dumps({"format": 1, "status": "finished"}))
    (nometrics / "metrics.json").write_text('{"total_return": 0.1, "sha')
    cases[nometrics.name] = "finished, but metrics.json is not valid JSON"
    dangling = runs_dir / "20260106T000000Z-gone-backtest-00000005"
    dangling.symlink_to(runs_dir / "does-not-exist")
    cases[dangling.name] = "symlink to a missing folder"
    listdir = runs_dir / "20260107T000000Z-array-backtest-00000006"
    listdir.mkdir()
    (listdir / "manifest.json").write_text("[1, 2]")
    cases[listdir.name] = "not a JSON object"
    return cases
