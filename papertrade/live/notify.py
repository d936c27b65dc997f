"""Notifications about a live run (``notify:``), sent through apprise from a background thread.

:class:`Notifier` subscribes to the run's events (:mod:`papertrade.live.events`) and turns the
configured kinds into messages: each trade (fill), each rejection, each order a rail cut
(``risk.max_order_notional``, ``risk.max_daily_turnover``: read from the journal's ``rail``
events), the kill switch, the stop and a crash; on request also the start, every decision and
retries. apprise delivers them to generic JSON webhooks (``json://``/``jsons://``: a POST of
``{"version", "title", "message", "type", ...}``) and to the common chat services.

Trading never waits for a message: the subscriber only puts it on a bounded queue (when the
queue is full, new messages are dropped and counted) and one worker thread sends them, each
with ``notify.timeout_seconds`` for connecting and for reading. A target that fails is logged
(its scheme and position in ``notify.urls``, never its URL). When the run ends, the worker gets
at most ``timeout_seconds`` more to send what is queued (so that the stop or crash message
leaves), then the process moves on without it.

Secrets: the URLs themselves are secret values (:func:`papertrade.util.secrets.secret_values`
masks them everywhere); every message is masked before it is queued, and apprise's own log
records go to the run's log only at debug level, masked too.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from loguru import logger

from papertrade.config import LoadedConfig
from papertrade.config_models import NotifyConfig
from papertrade.errors import ConfigError
from papertrade.live import events as ev
from papertrade.util.secrets import mask
from papertrade.util.text import did_you_mean, one_line

#: apprise's message type per kind: how a chat service colours it
_TYPES: Final = {"trade": "info", "decision": "info", "start": "info", "stop": "success",
                 "rejection": "warning", "rail": "warning", "retry": "warning",
                 "kill_switch": "failure", "crash": "failure", "reset": "warning"}


@dataclass(frozen=True)
class Message:
    """One notification: its kind (a ``notify.events`` name), title and body."""

    kind: str
    title: str
    body: str


def kind_of(event: ev.LiveEvent) -> str | None:
    """The ``notify.events`` name of a live event, None for events never sent."""
    kinds: dict[type[Any], str] = {
        ev.Trade: "trade", ev.Rejection: "rejection", ev.KillSwitch: "kill_switch",
        ev.Stopped: "stop", ev.Crashed: "crash", ev.Started: "start", ev.Decision: "decision",
        ev.Retry: "retry", ev.Capital: "reset"}
    return kinds.get(type(event))


class _AppriseLog(logging.Handler):
    """apprise's log records, masked, into the run's log at debug level."""

    def __init__(self, secrets: Collection[str]) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = secrets

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = mask(record.getMessage(), self.secrets)
        except Exception:  # a malformed record must not reach the loop
            return
        logger.debug("apprise: {}", one_line(text))


class Notifier:
    """Sends the configured kinds of live events to apprise targets, off the loop's thread.

    ``notifier(event)`` is the bus subscriber (it never blocks); the worker thread starts
    with the first message and :meth:`close` ends it. ``journal`` (the run's
    ``journal.sqlite``) is where rail cuts are read from.
    """

    def __init__(self, config: NotifyConfig, *, run_name: str, mode: str,
                 secrets: Collection[str], journal: Path | None = None,
                 file: str = "config") -> None:
        self.config = config
        self.kinds = set(config.events)
        self.prefix = f"papertrade {run_name} ({mode})"
        self.secrets = secrets
        self.journal = journal
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._rail_seen = 0
        self._targets: list[tuple[str, Any]] = []
        self._log = _AppriseLog(secrets)
        self._logging = (logging.NOTSET, True)
        self._quiet_apprise()  # before any URL is parsed: apprise's warnings may quote it
        try:
            for index, url in enumerate(config.urls):
                self._targets.append(self._target(index, url, file))
        finally:
            self._restore_logging()
        self._queue: queue.Queue[Message] = queue.Queue(config.queue_size)
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._worker: threading.Thread | None = None  # started with the first message

    # ------------------------------------------------------------------ the loop's side

    def reading(self, journal: Path) -> Notifier:
        """This notifier, reading rail cuts from ``journal``."""
        self.journal = journal
        return self

    def __call__(self, event: ev.LiveEvent) -> None:
        if isinstance(event, ev.Decision | ev.Stopped) and "rail" in self.kinds:
            for cut in self._rail_cuts():
                self.put(Message("rail", f"{self.prefix}: rail", cut))
        kind = kind_of(event)
        if kind is not None and kind in self.kinds:
            when = event.time.strftime("%Y-%m-%d %H:%M UTC")
            self.put(Message(kind, f"{self.prefix}: {kind.replace('_', ' ')}",
                             f"{event.text} [{when}]"))

    def put(self, message: Message) -> None:
        """Queue ``message`` (masked) without ever blocking; dropped when the queue is full."""
        masked = Message(message.kind, mask(message.title, self.secrets),
                         mask(message.body, self.secrets))
        if self._worker is None:
            self._quiet_apprise()
            self._worker = threading.Thread(target=self._work, name="papertrade-notify",
                                            daemon=True)
            self._worker.start()
        try:
            self._queue.put_nowait(masked)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                logger.warning("notification queue full ({} waiting): {} message(s) dropped",
                               self.config.queue_size, self.dropped)

    def _rail_cuts(self) -> list[str]:
        """Rail events journalled since the last look (read-only: the loop is the writer)."""
        if self.journal is None or not self.journal.is_file():
            return []
        try:
            db = sqlite3.connect(f"file:{self.journal}?mode=ro", uri=True, timeout=1.0)
            try:
                rows = db.execute("SELECT id, message FROM events WHERE kind = 'rail' AND id > ?"
                                  " ORDER BY id", (self._rail_seen,)).fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            logger.debug("notify: rail events unreadable: {}", exc)
            return []
        if rows:
            self._rail_seen = int(rows[-1][0])
        return [str(message) for _, message in rows]

    def close(self) -> None:
        """Let the worker send what is queued for at most ``timeout_seconds``, then stop it;
        what is still queued then is dropped (a hanging target cannot hold the process)."""
        if self._worker is None:
            return
        self._closing.set()
        self._worker.join(self.config.timeout_seconds)
        if self._worker.is_alive():
            self._abandon.set()
            logger.warning("notifications: {} message(s) not sent when the run ended",
                           self._queue.qsize() + 1)
        self._restore_logging()

    def _quiet_apprise(self) -> None:
        """apprise's log records go, masked, to our log at debug level only."""
        apprise_logger = logging.getLogger("apprise")
        self._logging = (apprise_logger.level, apprise_logger.propagate)
        apprise_logger.addHandler(self._log)
        apprise_logger.setLevel(logging.DEBUG)
        apprise_logger.propagate = False

    def _restore_logging(self) -> None:
        apprise_logger = logging.getLogger("apprise")
        apprise_logger.removeHandler(self._log)
        apprise_logger.setLevel(self._logging[0])
        apprise_logger.propagate = self._logging[1]

    def _target(self, index: int, url: str, file: str) -> tuple[str, Any]:
        """``(label, apprise plugin)`` of ``notify.urls[index]``; ConfigError naming the entry
        and its scheme (never the URL) when apprise does not know it."""
        import apprise

        scheme = url.split("://", 1)[0] if "://" in url else ""
        label = f"notify.urls[{index}] ({one_line(scheme, 20) or 'no scheme'})"
        target = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if target is None:
            manager = apprise.manager_plugins.NotificationManager()  # type: ignore[no-untyped-call]
            known: list[str] = manager.schemas()  # type: ignore[no-untyped-call]
            hint = did_you_mean(scheme.lower(), known) if scheme.lower() not in known else ""
            raise ConfigError(file, f"notify.urls[{index}]",
                              f"not a notification URL apprise can use (scheme "
                              f"'{one_line(scheme, 20)}'{'; ' + hint if hint else ''})",
                              "use json://host/path for a webhook, or a service URL from "
                              "apprise's list (tgram://, slack://, discord://, mailto://)")
        target.socket_connect_timeout = self.config.timeout_seconds
        target.socket_read_timeout = self.config.timeout_seconds
        return label, target

    # ------------------------------------------------------------------ the worker

    def _work(self) -> None:
        while not self._abandon.is_set():
            try:
                message = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            for label, target in self._targets:
                if not self._abandon.is_set():
                    self._send(label, target, message)

    def _send(self, label: str, target: Any, message: Message) -> None:
        from apprise import NotifyType

        try:
            ok = bool(target.notify(body=message.body, title=message.title,
                                    notify_type=NotifyType(_TYPES.get(message.kind, "info"))))
        except Exception as exc:  # a plugin's bug must not kill the worker
            ok = False
            logger.debug("notify {}: {}", label, mask(one_line(str(exc)), self.secrets))
        if ok:
            self.sent += 1
            return
        self.failed += 1
        if self.failed == 1 or self.failed % 50 == 0:
            logger.warning("notification to {} failed ({} so far; trading goes on)", label,
                           self.failed)


def notifier_for(loaded: LoadedConfig, secrets: Collection[str]) -> Notifier | None:
    """The run's notifier when ``notify.urls`` names any target (checked: exit 2 on a URL
    apprise does not know); None otherwise."""
    run = loaded.run
    if not run.notify.urls:
        return None
    return Notifier(run.notify, run_name=run.name, mode=run.broker.mode, secrets=secrets,
                    file=loaded.path)
