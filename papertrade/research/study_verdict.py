"""The plain-words verdict of an event study: what the data can and cannot tell.

Written for a skeptic and never flattering: an effect is called distinguishable from luck only
when the placebo p-value is below 0.05 *and* the bootstrap interval excludes zero, and even then
the paragraph counts how many such results chance alone would produce across every symbol and
horizon tested.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

ALPHA = 0.05


def pct(value: Any, digits: int = 1) -> str:
    """``+12.3 %``; ``n/a`` for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value) * 100:+.{digits}f} %".replace("-", "−")


def _p(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value):.3f}" if float(value) >= 0.001 else "< 0.001"


def significant(row: pd.Series) -> bool:
    """Placebo p < 0.05 and the bootstrap interval of the effect excludes zero."""
    p, low, high = row.get("placebo_p"), row.get("ci_low"), row.get("ci_high")
    if not all(isinstance(v, float) and math.isfinite(v) for v in (p, low, high)):
        return False
    return bool(p < ALPHA and (low > 0 or high < 0))


def call(row: pd.Series) -> str:
    """The words for one test: both checks pass, one does, or neither."""
    if significant(row):
        return "unlikely to be luck alone"
    p, low, high = row.get("placebo_p"), row.get("ci_low"), row.get("ci_high")
    one = (isinstance(p, float) and p < ALPHA) or (
        isinstance(low, float) and isinstance(high, float) and (low > 0 or high < 0))
    return ("mixed: one check passes, the other does not; not conclusive" if one
            else "not distinguishable from luck")


def bottom_line(rows: pd.DataFrame, kind: str, primary: str) -> str:
    """The first thing to read: at which horizons (if any) the effect is more than luck."""
    tested = rows[rows["complete"] > 0]
    if tested.empty:
        return "Bottom line: no horizon has complete data after any event; nothing can be said."
    passed = [r for _, r in tested.iterrows() if significant(r)]
    mixed = [int(r["horizon"]) for _, r in tested.iterrows()
             if not significant(r) and call(r).startswith("mixed")]
    if not passed:
        text = (f"Bottom line: at no horizon is {primary}'s move after {_a(kind)} '{kind}' "
                "distinguishable from luck")
        if mixed:
            text += (f" (at {_days(mixed)} one of the two tests passes, which is not enough)")
        return text + "."
    up = [int(r["horizon"]) for r in passed if float(r["effect"]) > 0]
    down = [int(r["horizon"]) for r in passed if float(r["effect"]) <= 0]
    said = []
    if up:
        said.append(f"more than after other days at {_days(up)}")
    if down:
        said.append(f"less than after other days at {_days(down)}")
    return (f"Bottom line: after {_a(kind)} '{kind}', {primary} returned {' and '.join(said)}, "
            "by more than luck usually explains; read the caveats below before trusting it.")


def _a(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _days(horizons: list[int]) -> str:
    names = [f"{h}" for h in horizons]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{joined} days"


def verdict(summary: pd.DataFrame, kind: str, primary: str, span: str) -> str:
    """One paragraph on the ``kind`` events, centred on ``primary`` (the main traded symbol)."""
    rows = summary[summary["event"] == kind]
    mine = rows[rows["symbol"] == primary].sort_values("horizon")
    total = int(mine["events"].max()) if len(mine) else 0
    if total == 0:
        return (f"The strategy produced no '{kind}' events {span}: there is nothing to measure, "
                "and no conclusion either way. Widen the window (--start/--end) or check the "
                "event kind (--event).")
    parts = [f"{total} '{kind}' event{'s' if total != 1 else ''} {span}.",
             bottom_line(mine, kind, primary)]
    for _, r in mine.iterrows():
        h = int(r["horizon"])
        if int(r["complete"]) == 0:
            parts.append(f"{h} days: no event has {h} days of data after it (incomplete), so "
                         "nothing can be said.")
            continue
        hits = round(float(r["hit_rate"]) * int(r["complete"]))
        skew = ("; the mean rests on a few large moves, the median says the opposite"
                if float(r["mean"]) * float(r["median"]) < 0 else "")
        parts.append(
            f"{h} days: {primary} mean {pct(r['mean'])} (median {pct(r['median'])}, "
            f"{hits} of {int(r['complete'])} up{skew}) vs {pct(r['any_mean'])} after any day; "
            f"placebo p = {_p(r['placebo_p'])}, {round(float(r['ci_level']) * 100)} % "
            f"bootstrap interval of the difference [{pct(r['ci_low'])}, {pct(r['ci_high'])}], "
            f"HAC t = {_t(r['hac_t'])}: {call(r)}.")
    parts.append(_drawdown_sentence(mine, kind, primary))
    tested = rows[rows["complete"] > 0]
    hits = int(sum(significant(r) for _, r in tested.iterrows()))
    expected = ALPHA * len(tested)
    parts.append(
        f"Across all {len(tested)} symbol × horizon tests, {hits} pass both checks where "
        f"chance alone would give about {expected:.1f}"
        + (": the passes are no more than noise would produce." if hits <= max(expected, 1)
           else ", more than chance, but these tests share the same few events and "
                "overlapping windows, so they are not independent confirmations."))
    longest = mine[mine["complete"] > 0].tail(1)
    if len(longest):
        r = longest.iloc[0]
        parts.append(
            f"The events' {int(r['horizon'])}-day windows amount to only "
            f"{int(r['independent'])} non-overlapping observation(s); with so few, even a "
            "large true effect could hide in the noise and a large measured one could be "
            "chance. The HAC t is least reliable with few events; the placebo test is the "
            "one to trust.")
    return " ".join(p for p in parts if p)


def _drawdown_sentence(rows: pd.DataFrame, kind: str, primary: str) -> str:
    """The worst and the mean fall within 90 days (else the longest complete horizon) after
    the events, against the mean fall after any day: the bear-market half of the claim."""
    done = rows[rows["complete"] > 0]
    if done.empty:
        return ""
    at = done[done["horizon"] == 90]
    r = (at if len(at) else done.tail(1)).iloc[0]
    return (f"Within {int(r['horizon'])} days after {_a(kind)} '{kind}', {primary} fell at worst "
            f"{pct(r['worst_maxdd'])} below its running peak (mean {pct(r['mean_maxdd'])}), "
            f"against a mean of {pct(r['any_mean_maxdd'])} after any day.")


def _t(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value):.2f}".replace("-", "−")
