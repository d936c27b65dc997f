"""The error families of papertrade, each with the exit code a supervisor can act on.

Every error papertrade raises on purpose derives from :class:`PapertradeError`; the CLI prints
it as one line (``-v`` adds the traceback) and exits with the family's code:

====  =====================================================================================
code  family
====  =====================================================================================
0     success (a backtest whose kill switch fired still succeeded: the rail is a result)
1     an unexpected internal error (a bug in papertrade: please report it)
2     bad input: config, command line, run folder (:class:`ConfigError`, :class:`RunFolderError`),
      or a deterministic exchange rejection at start-up (:class:`BrokerRejected`, e.g. bad keys)
3     market data missing, malformed or unreachable (:class:`DataError`)
4     the exchange is unavailable after every retry (:class:`BrokerUnavailable`)
5     a bug inside a strategy (:class:`StrategyError`)
6     a live run stopped by a risk rail (:class:`RailTriggered`: the kill switch)
7     ``papertrade lookahead`` found a decision that depends on the future
      (:class:`LookAheadFound`)
130   interrupted (Ctrl-C outside a live loop; a live loop stops gracefully with 0)
====  =====================================================================================

At the exchange edge there are exactly two families, following ccxt: :class:`BrokerRejected`
(deterministic, never retried) and :class:`BrokerUnavailable` (transient, retried with backoff).
"""

from __future__ import annotations


class PapertradeError(Exception):
    """Root of every error papertrade raises on purpose."""

    exit_code = 2


class ConfigError(PapertradeError):
    """A config file (or an override) is malformed: says the file, the key and the fix."""

    def __init__(self, file: str, key: str, problem: str, fix: str = "") -> None:
        self.file = file
        self.key = key
        self.problem = problem
        self.fix = fix
        where = f"{file}: {key}" if key else file
        text = f"{where}: {problem}"
        if fix:
            text += f"; {fix}"
        super().__init__(text)


class DataError(PapertradeError):
    """Market data is missing, malformed or unreachable."""

    exit_code = 3


class StrategyError(PapertradeError):
    """A strategy raised, or returned something that breaks the strategy contract.

    The message names the strategy, the decision time and the exception, on one line.
    """

    exit_code = 5


class LookAheadFound(StrategyError):
    """The look-ahead checker found decisions that change when the future does."""

    exit_code = 7


class RailTriggered(PapertradeError):
    """A risk rail stopped a live run (the drawdown kill switch)."""

    exit_code = 6


class BrokerError(PapertradeError):
    """Base of the exchange-edge errors; strategies never see these."""


class BrokerRejected(BrokerError):
    """Deterministic rejection (invalid order, insufficient funds, bad symbol): never retried.

    ``kind`` names the cause: invalid_order, insufficient_funds, bad_symbol, auth, not_found,
    not_supported or other.
    """

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


class BrokerUnavailable(BrokerError):
    """Transient fault (network, timeout, rate limit, exchange down): retried with backoff;
    exit code 4 once the retries are exhausted.

    ``retry_after`` is the exchange's hint in seconds (Retry-After), if it gave one.
    """

    exit_code = 4

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RunFolderError(PapertradeError):
    """A run folder is missing, corrupted or of an unknown format."""
