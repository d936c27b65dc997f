"""The fast array simulator: a backtest's semantics (the trading kernel's functions, next-open
fills as backtrader makes them) at a fraction of its cost, verified against backtrader by
``tests/test_sim_parity.py``. Only the composition roots (runner, live, research) import it."""

from papertrade.sim.replay import backtest_command
from papertrade.sim.simulator import SimResult, Simulator

__all__ = ["SimResult", "Simulator", "backtest_command"]
