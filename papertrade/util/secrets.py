"""Secrets never reach a log, a run folder or a message: redaction by key name and by value.

Two complementary tools:

- :func:`redact` masks a config by *key name*: a secret-looking key (``api_key``, ``secret``,
  ``password``, ...) keeps its key and loses its value; a ``*_env`` key keeps its value (the
  *name* of an environment variable) unless that value is not an environment variable name at
  all (a key pasted where its variable's name belongs), which is masked too.
- :func:`secret_values` collects the secret *values* a run knows of (what the ``*_env`` keys
  name in the environment, secret-looking keys' values, keys pasted into ``*_env`` fields,
  secret-looking environment variables, hence ``${VAR}`` interpolations of them), and
  :func:`mask` replaces them wherever they occur: in a config, a manifest, an error message or a
  log line (:func:`masking_filter` is a loguru filter doing so).

:func:`redact_config` combines both for a config about to be written or shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from loguru import Record

MASK: Final = "***"
#: shorter values are masked by key name only: replacing them by value would shred text
MIN_SECRET_LENGTH: Final = 4
#: a valid environment variable name, as ``*_env`` keys must hold
ENV_NAME: Final = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SECRET_NAME: Final = re.compile(
    r"(secret|password|passwd|passphrase|api_?key|token|private|credential|(^|_)key($|_))",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    """Whether a config key or environment variable name suggests a secret value."""
    return bool(_SECRET_NAME.search(name)) and not name.lower().endswith("_env")


def _is_env_key(key: str) -> bool:
    return key.lower().endswith("_env")


def redact(value: Any, key: str = "") -> Any:
    """A copy of a raw config with every secret-looking value replaced by ``***``.

    ``*_env`` values stay when they are environment variable names (``^[A-Z_][A-Z0-9_]*$``);
    anything else there is taken for a pasted key and masked.
    """
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if value in (None, ""):
        return value
    if _is_env_key(key):
        return value if isinstance(value, str) and ENV_NAME.match(value) else MASK
    if looks_secret(key):
        return MASK
    return value


def secret_values(raw: Any, env: Mapping[str, str] | None = None) -> frozenset[str]:
    """Every secret value a run knows of, to be masked wherever it occurs.

    From ``raw`` (a config as loaded, ``${VAR}`` already expanded): the values of the
    environment variables its ``*_env`` keys name, any ``*_env`` value that is not a variable
    name (a pasted key), and the values of secret-looking keys. From ``env`` (default
    ``os.environ``): the values of secret-looking variables, which covers ``${VAR}``
    interpolations of them anywhere in the config. Values shorter than
    :data:`MIN_SECRET_LENGTH` are left out (they are still masked by key name).
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    found: set[str] = set()
    _collect(raw, "", environ, found)
    found.update(v for k, v in environ.items() if looks_secret(k))
    return frozenset(v for v in found if len(v.strip()) >= MIN_SECRET_LENGTH)


def _collect(value: Any, key: str, env: Mapping[str, str], found: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _collect(v, str(k), env, found)
        return
    if isinstance(value, list):
        for item in value:
            _collect(item, key, env, found)
        return
    if value is None or isinstance(value, bool) or value == "":
        return
    text = str(value)
    if _is_env_key(key):
        if ENV_NAME.match(text):
            if env.get(text):
                found.add(env[text])
        else:
            found.add(text)
    elif looks_secret(key):
        found.add(text)


def _pattern(secrets: Collection[str]) -> re.Pattern[str] | None:
    usable = sorted({s for s in secrets if s}, key=len, reverse=True)  # longest first
    return re.compile("|".join(re.escape(s) for s in usable)) if usable else None


def _mask_with(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(MASK, value)
    if isinstance(value, dict):
        return {_mask_with(k, pattern): _mask_with(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_with(v, pattern) for v in value)
    return value


def mask(value: Any, secrets: Collection[str]) -> Any:
    """``value`` (text, or a JSON-like structure: keys too) with each secret replaced by ``***``.

    Non-text leaves (numbers, booleans, ``None``) are returned as they are.
    """
    pattern = _pattern(secrets)
    return value if pattern is None else _mask_with(value, pattern)


def redact_config(raw: Any, secrets: Collection[str] | None = None) -> Any:
    """``raw`` masked by key name and by value: what a run folder or a message may show.

    ``secrets`` defaults to :func:`secret_values` of ``raw`` in the current environment.
    """
    known = secret_values(raw) if secrets is None else secrets
    return mask(redact(raw), known)


def refuse_masked(raw: Any, file: str) -> None:
    """Raise a ConfigError naming the first value holding ``***`` (a secret masked when a run
    folder's config.yaml was written): it must never be taken for the secret itself."""
    from papertrade.errors import ConfigError

    pending: list[tuple[str, Any]] = [("", raw)]
    while pending:
        key, value = pending.pop()
        if isinstance(value, dict):
            pending.extend((f"{key}.{k}" if key else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            pending.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, str) and MASK in value:
            raise ConfigError(file, key, f"holds {MASK}, a secret masked when a run folder was "
                              "written", f"set it again: --set {key}=... or ${{VAR}}")


def masking_filter(secrets: Collection[str]) -> Callable[[Record], bool]:
    """A loguru ``filter=`` that masks ``secrets`` in each record's message (and passes it).

    ``logger.add(sink, filter=masking_filter(secret_values(loaded.raw)))``.
    """
    pattern = _pattern(secrets)

    def keep(record: Record) -> bool:
        if pattern is not None and isinstance(record["message"], str):
            record["message"] = pattern.sub(MASK, record["message"])
        return True

    return keep
