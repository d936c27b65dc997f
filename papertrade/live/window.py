"""When a live session starts deciding, and whether ``--until`` leaves it anything to do."""

from __future__ import annotations

import datetime as dt

from papertrade.config import LoadedConfig, RunConfig
from papertrade.errors import ConfigError


def replay_start(run: RunConfig) -> dt.date:
    """The first day of an emulator's replay: ``broker.emulator.start``, else ``data.start``,
    else 400 days ago (also where the other modes' history starts without ``data.start``)."""
    return run.broker.emulator.start or run.data.start or dt.date.today() - dt.timedelta(days=400)


def check_until(loaded: LoadedConfig, until: dt.date | None) -> None:
    """Refuse a ``--until`` before the session's first decision could happen (nothing would
    run): before the replay's start for an in-process emulator, before today otherwise."""
    run = loaded.run
    b = run.broker
    if until is None or (b.mode == "emulator" and b.emulator.url is not None) or (
            b.mode == "testnet" and b.testnet_url is not None):
        return  # a running emulator's clock (or a mirror's) is only known once connected
    if run.broker.mode == "emulator":
        first, what = replay_start(run), "the replay's start"
        fix = "pass a later --until, or set broker.emulator.start or data.start before it"
    else:
        first, what = dt.datetime.now(dt.UTC).date(), f"today ({run.broker.mode} trades now)"
        fix = "pass today or a later date, or drop --until"
    if until < first:
        raise ConfigError(loaded.path, "--until", f"{until} is before {what} {first}", fix)
