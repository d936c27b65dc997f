"""Secrets never reach a log, a run folder or a message: redaction by key name."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(r"(secret|password|passphrase|api_?key|token|private)", re.IGNORECASE)


def redact(value: Any, key: str = "") -> Any:
    """A copy of a raw config with every secret-looking value replaced by '***'."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if _SECRET_KEY.search(key) and not key.endswith("_env") and value not in (None, ""):
        return MASK
    return value
