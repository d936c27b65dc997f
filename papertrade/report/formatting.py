"""How metric values are shown, shared by the terminal tables and the HTML report.

Pure functions on JSON values (no pandas) so ``runs list`` stays fast. Every ratio in
``metrics.json`` is a fraction (0.25 = 25 %); ``None`` means *undefined* and is shown as an
em dash, a missing key as ``n/a``.
"""

from __future__ import annotations

import math
from typing import Any, Final

from papertrade.util.text import one_line

UNDEFINED: Final = "—"
#: a value that is not a number (text, a list, ...) is shown at most this long, on one line
MAX_SHOWN: Final = 60
MISSING: Final = "n/a"

FRACTIONS: Final = frozenset(
    {"total_return", "cagr", "volatility", "max_drawdown", "exposure", "win_rate"}
)
RATIOS: Final = frozenset({"sharpe", "sortino", "calmar", "profit_factor"})
MONEY: Final = frozenset({"start_equity", "end_equity", "fees"})
COUNTS: Final = frozenset({"bars", "trades", "round_trips", "rebalances", "rejected_orders"})
DAYS: Final = frozenset({"max_drawdown_duration_days"})
MULTIPLES: Final = frozenset({"turnover"})

#: metrics.json keys in the order of docs/run-folder.md, with their labels
LABELS: Final[dict[str, str]] = {
    "start": "Start",
    "end": "End",
    "bars": "Bars",
    "start_equity": "Start equity",
    "end_equity": "End equity",
    "total_return": "Total return",
    "cagr": "CAGR",
    "volatility": "Volatility (ann.)",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "Max drawdown",
    "max_drawdown_duration_days": "Max drawdown duration",
    "calmar": "Calmar",
    "exposure": "Exposure",
    "trades": "Trades (fills)",
    "round_trips": "Round trips",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "fees": "Fees",
    "turnover": "Turnover",
    "rebalances": "Rebalances",
    "rejected_orders": "Rejected orders",
}

BENCHMARK_KEYS: Final = ("total_return", "cagr", "max_drawdown")


def label(key: str) -> str:
    """Human label of a metrics.json key (unknown keys: ``snake_case`` -> ``Snake case``)."""
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def is_number(value: Any) -> bool:
    """True for a finite int/float that is not a bool."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float range
        return False


def fmt_metric(key: str, value: Any, quote: str = "") -> str:
    """One metric value as shown everywhere (``total_return`` 1.3457 -> ``134.57 %``)."""
    if value is None:
        return UNDEFINED
    if not is_number(value):
        return one_line(str(value), MAX_SHOWN)
    number = float(value)
    if key in FRACTIONS:
        return f"{number * 100:,.2f} %"
    if key in RATIOS:
        return f"{number:,.2f}"
    if key in MONEY:
        return f"{number:,.2f} {quote}".rstrip()
    if key in COUNTS:
        return f"{round(number):,d}"
    if key in DAYS:
        return f"{round(number):,d} d"
    if key in MULTIPLES:
        return f"{number:,.2f}×"
    return f"{number:,.2f}" if abs(number) >= 100 else f"{number:.4g}"


def fmt_pct(value: Any) -> str:
    """A fraction as a percentage, ``—`` if undefined or not a number."""
    return fmt_metric("total_return", value) if is_number(value) else UNDEFINED


def fmt_money(value: Any, quote: str = "") -> str:
    """A money amount with thousands separators."""
    return fmt_metric("fees", value, quote) if is_number(value) else UNDEFINED


def fmt_price(value: Any) -> str:
    """A price or level: 2 decimals above 1, 6 significant digits below."""
    if not is_number(value):
        return UNDEFINED if value is None else str(value)
    number = float(value)
    return f"{number:,.2f}" if abs(number) >= 1 else f"{number:.6g}"


def fmt_qty(value: Any) -> str:
    """A quantity: up to 8 decimals, trailing zeros removed."""
    if not is_number(value):
        return UNDEFINED if value is None else str(value)
    text = f"{float(value):,.8f}".rstrip("0").rstrip(".")
    return text or "0"


def fmt_inputs(inputs: Any, limit: int = 6, sep: str = ", ") -> str:
    """A decision's inputs JSON as ``key=value`` pairs joined by ``sep`` (prices with 2
    decimals)."""
    if not isinstance(inputs, dict):
        return "" if inputs is None else str(inputs)
    parts: list[str] = []
    for key, value in list(inputs.items())[:limit]:
        if isinstance(value, bool) or not is_number(value):
            parts.append(f"{key}={value}")
        elif isinstance(value, int):
            parts.append(f"{key}={value:,d}")
        else:
            parts.append(f"{key}={fmt_price(value)}")
    if len(inputs) > limit:
        parts.append(f"+{len(inputs) - limit} more")
    return sep.join(parts)


def fmt_weights(targets: Any, sep: str = ", ") -> str:
    """Target weights ``{"BTC/USDT": 1.0}`` as ``BTC/USDT 100 %`` joined by ``sep``; empty ->
    ``cash``."""
    if not isinstance(targets, dict):
        return "" if targets is None else str(targets)
    held = [(s, w) for s, w in targets.items() if is_number(w) and abs(float(w)) > 1e-12]
    if not held:
        return "cash"
    held.sort(key=lambda item: -float(item[1]))
    return sep.join(f"{s} {float(w) * 100:.0f} %" for s, w in held)


def arrow(text: str) -> str:
    """Reasons are journaled with ``->``; show them with a real arrow."""
    return text.replace("->", "→")
