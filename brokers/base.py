"""What every broker reports back to the runner.

The backtest broker (:mod:`brokers.backtrader_sim`) drives its own event loop and writes to
the journal as it goes; the live brokers implement the same journal contract one decision at a
time. Either way the runner reads the results from the journal, so every review tool treats
every mode alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExecutionReport:
    """Counters a broker keeps while executing (the journal holds the details)."""

    rejected: int = 0
    final_cash: float = 0.0
    final_value: float = 0.0
