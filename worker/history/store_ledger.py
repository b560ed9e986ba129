"""The pacing ledger (worker/tws/pacing_ledger.py's PacingLedger) as a table of the bar store's file.

`append` commits on the owner thread's own connection before it returns, so the record is in the WAL before the
request's message goes to TWS: kill -9 of the worker cannot lose it (synchronous=NORMAL: no fsync, only a crash of the
machine could). The writer thread's transactions are short, so an append waits on them a few ms at most. A failure
(disk full, say) is logged once and pacing goes on in memory: it never ends the owner thread.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

from worker.tws.pacing_ledger import SentRequest, decode, encode

log = logging.getLogger("tws.pacing_ledger")


class StoreLedger:
    def __init__(self, conn: sqlite3.Connection, location: str) -> None:
        self._conn = conn
        self.location: str | None = location
        self._failed = False
        self.appended = 0

    def load(self) -> list[SentRequest]:
        try:
            rows = self._conn.execute("SELECT record FROM pacing ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)
            return []
        records = [r for r in (decode(row[0].encode() if isinstance(row[0], str) else b"") for row in rows)
                   if r is not None]
        if len(records) < len(rows):
            log.warning("pacing ledger in %s: skipped %d unreadable record(s)", self.location,
                        len(rows) - len(records))
        return records

    def append(self, sent: SentRequest) -> None:
        if self._failed:
            return
        try:
            self._conn.execute("INSERT INTO pacing (record) VALUES (?)", (encode(sent).rstrip().decode(),))
        except sqlite3.Error as exc:
            self._fail(exc)
            return
        self.appended += 1

    def rewrite(self, keep: Iterable[SentRequest]) -> None:
        """Replace the records with `keep` (compaction), in one transaction."""
        if self._failed:
            return
        rows = [(encode(sent).rstrip().decode(),) for sent in keep]
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM pacing")
                self._conn.executemany("INSERT INTO pacing (record) VALUES (?)", rows)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            log.warning("pacing ledger in %s could not be compacted (%s); appending to it as it is", self.location,
                        exc)

    def close(self) -> None:
        return None  # the store owns the connection

    def _fail(self, exc: sqlite3.Error) -> None:
        self._failed = True
        log.error("pacing ledger in %s cannot be written (%s): pacing goes on in memory only, and a restarted worker "
                  "will not know what this one sent", self.location, exc)
