"""Creating a run folder and writing its plain files (format: docs/run-folder.md).

Secrets never reach these files: ``config.yaml`` is redacted by key name and by value, and
the manifest is masked by value (:mod:`papertrade.util.secrets`). Pass the run's secrets
(``secret_values(loaded.raw)``) to :func:`manifest` and :func:`finish_manifest` so a key the
config holds (a key pasted into ``*_env``) is masked in an error message too; without them
the secrets found in the environment are masked.

Light imports only (no pandas at import time): ``runs list`` imports this package.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from papertrade import __version__
from papertrade.errors import RunFolderError
from papertrade.runfolder.layout import CONFIG, FORMAT, MANIFEST
from papertrade.util.secrets import mask, redact_config, secret_values

if TYPE_CHECKING:
    import pandas as pd


def utc_now() -> dt.datetime:
    """The current time in UTC (seconds resolution)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def run_digest(raw_config: dict[str, Any], data: dict[str, dict[str, object]]) -> str:
    """First 8 hex digits of SHA-256 over the resolved config and the data digests."""
    payload = json.dumps({"config": raw_config, "data": data}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def create_run_folder(runs_dir: Path, name: str, mode: str, digest: str) -> Path:
    """A new, empty run folder; never reuses or overwrites an existing one."""
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"runs_dir {runs_dir}: cannot create it ({exc.strerror})") from None
    for attempt in range(1, 100):
        suffix = "" if attempt == 1 else f"-{attempt}"
        folder = runs_dir / f"{stamp}-{name}-{mode}-{digest}{suffix}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunFolderError(f"{folder}: cannot create it ({exc.strerror})") from None
        return folder
    raise RunFolderError(f"{runs_dir}: too many runs named {stamp}-{name}-{mode}-{digest}")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename), so readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write a CSV atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_csv(tmp, index=False, float_format="%.15g")
    os.replace(tmp, path)


def write_config(folder: Path, raw: dict[str, Any],
                 secrets: Collection[str] | None = None, header: str = "") -> None:
    """``config.yaml``: the resolved config, secrets replaced by ``***``, ``header`` (if any)
    as a leading ``#`` comment.

    Masked by key name and by value: ``secrets`` defaults to
    :func:`~papertrade.util.secrets.secret_values` of ``raw`` in the current environment.
    Loading a config that still holds ``***`` fails (:func:`papertrade.config.load_config`):
    a masked secret is never taken for its value.
    """
    import yaml

    known = secret_values(raw) if secrets is None else secrets
    text = yaml.safe_dump(redact_config(raw, known), sort_keys=False, default_flow_style=None)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    (folder / CONFIG).write_text(comment + text)


def git_sha() -> str | None:
    """The commit of the working tree papertrade runs from, if it is a git checkout."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    """Versions of papertrade, Python and the libraries that shape results."""
    from importlib import metadata

    found = {"papertrade": __version__, "python": platform.python_version()}
    for package in ("backtrader", "pandas", "numpy", "pydantic", "ccxt"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _masked(payload: dict[str, Any], secrets: Collection[str] | None) -> dict[str, Any]:
    known = secret_values({}) if secrets is None else secrets
    masked: dict[str, Any] = mask(payload, known)
    return masked


def manifest(folder: Path, *, secrets: Collection[str] | None = None,
             **fields: Any) -> dict[str, Any]:
    """The manifest for a new run (status ``running``), with ``secrets`` masked.

    ``secrets`` defaults to the secret values found in the environment.
    """
    return _masked({
        "format": FORMAT,
        "run_id": folder.name,
        "status": "running",
        "error": None,
        "pid": os.getpid(),
        "created_at": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "finished_at": None,
        **fields,
        "versions": versions(),
        "git_sha": git_sha(),
    }, secrets)


def finish_manifest(folder: Path, payload: dict[str, Any], status: str,
                    error: str | None = None, *,
                    secrets: Collection[str] | None = None) -> None:
    """Rewrite the manifest with the final status (``error`` and all, ``secrets`` masked)."""
    payload = {**payload, "status": status, "error": error,
               "finished_at": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")}
    write_json(folder / MANIFEST, _masked(payload, secrets))


def run_tag(folder: Path) -> str:
    """A run's tag in client order ids: the first 6 characters of its folder's hash."""
    return folder.name.rsplit("-", 1)[-1][:6]
