"""The error families of papertrade.

Every error a user can cause derives from :class:`PapertradeError`; the CLI prints it as one
line and exits with code 2. At the exchange edge there are exactly two families, following
ccxt: :class:`BrokerRejected` (deterministic, never retried) and :class:`BrokerUnavailable`
(transient, retried with backoff).
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


class StrategyError(PapertradeError):
    """A strategy cannot be found or cannot run on the data it was given."""


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
    """Transient fault (network, timeout, rate limit, exchange down): retried with backoff.

    ``retry_after`` is the exchange's hint in seconds (Retry-After), if it gave one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RunFolderError(PapertradeError):
    """A run folder is missing, corrupted or of an unknown format."""
