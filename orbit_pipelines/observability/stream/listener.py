"""One LISTEN connection per server, fanned out to every client as a wake-up (no polling loop).

A notification only says "task_events has new rows": clients read the rows themselves, so many
notifications for one burst wake each client once, and a notification lost while the connection was
down costs nothing (the listener wakes everybody when it connects again)."""

from __future__ import annotations

import logging
import os
import select
import threading
import time

import psycopg2
import psycopg2.extensions
from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "orbit_events"  # migration 0009's trigger notifies here
RECONNECT_SECONDS = 2.0


class Wakeups:
    """A counter clients wait on: every wake-up bumps it and wakes all waiting clients."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.generation = 0
        self.closed = False

    def wake(self) -> None:
        with self._changed:
            self.generation += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """The generation once it differs from `seen` (or the stream closes), or `seen` after `timeout`."""
        with self._changed:
            self._changed.wait_for(lambda: self.generation != seen or self.closed, timeout)
            return self.generation

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()


class Listener(threading.Thread):
    """LISTEN orbit_events on a connection of its own (not the pool's: it is held for the server's
    life), reconnecting after a lost connection. `connected` is set while it listens."""

    def __init__(self, engine: Engine, wakeups: Wakeups):
        super().__init__(name="orbit-events-listener", daemon=True)
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._connect_args = (list(args), {**kwargs, "application_name": "orbit-events-listener"})
        self.wakeups = wakeups
        self.connected = threading.Event()
        # Written to by stop(): wakes the select below at once instead of waiting on a timeout.
        self._stop_read, self._stop_write = os.pipe()
        self._stopping = False

    def run(self) -> None:
        while not self._stopping:
            try:
                self._listen()
            except (psycopg2.Error, OSError) as exc:
                self.connected.clear()
                if self._stopping:
                    break
                log.warning("events: lost the LISTEN connection (%s); reconnecting", " ".join(str(exc).split()))
                time.sleep(RECONNECT_SECONDS)
        os.close(self._stop_read)

    def _listen(self) -> None:
        args, kwargs = self._connect_args
        # Keepalives: a server gone without a word is noticed in about a minute, not never.
        conn = psycopg2.connect(*args, **kwargs, keepalives=1, keepalives_idle=30, keepalives_interval=10)
        try:
            conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            self.connected.set()
            self.wakeups.wake()  # rows committed while nobody listened
            while not self._stopping:
                readable, _, _ = select.select([conn, self._stop_read], [], [])
                if self._stop_read in readable:
                    return
                conn.poll()
                if conn.notifies:
                    conn.notifies.clear()
                    self.wakeups.wake()
        finally:
            self.connected.clear()
            conn.close()

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        os.write(self._stop_write, b"x")
        self.join(timeout=5)
        os.close(self._stop_write)
