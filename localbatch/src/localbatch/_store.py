"""Pools, jobs, tasks and nodes, kept in memory and written through to SQLite.

Every document is the service's own JSON shape, so reads are a lookup and a
copy. The write-through log makes the state survive a restart of the service.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Document = dict[str, Any]


class Store:
    """Thread-safe state of one localbatch account."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.RLock()
        # Created 0600 before SQLite opens it; its -wal and -shm files take the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        path.chmod(0o600)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS entity ("
            " kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,"
            " doc TEXT NOT NULL, PRIMARY KEY (kind, parent, id))"
        )
        self.pools: dict[str, Document] = {}
        self.jobs: dict[str, Document] = {}
        self.tasks: dict[str, dict[str, Document]] = {}
        self.nodes: dict[str, dict[str, Document]] = {}
        #: Job preparation task runs: job id -> node id -> status.
        self.preps: dict[str, dict[str, Document]] = {}
        self.jobschedules: dict[str, Document] = {}
        #: The auto pools localbatch made: pool id -> whose (a job's or a job schedule's) it is.
        self.autopools: dict[str, Document] = {}
        self._seq = 0
        self._depth = 0
        self._pending: list[tuple[str, str, str, Document | None]] = []
        self._load()

    def _load(self) -> None:
        rows = self._db.execute("SELECT kind, parent, id, seq, doc FROM entity ORDER BY seq")
        for kind, parent, ident, seq, doc in rows:
            self._seq = max(self._seq, seq)
            self._table(kind, parent)[ident] = json.loads(doc)

    def _table(self, kind: str, parent: str) -> dict[str, Document]:
        if kind == "pool":
            return self.pools
        if kind == "job":
            return self.jobs
        if kind == "task":
            return self.tasks.setdefault(parent, {})
        if kind == "prep":
            return self.preps.setdefault(parent, {})
        if kind == "jobschedule":
            return self.jobschedules
        if kind == "autopool":
            return self.autopools
        return self.nodes.setdefault(parent, {})

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group changes: they are written to SQLite together at the end."""
        with self.lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._db.execute("BEGIN")
        try:
            for kind, parent, ident, doc in pending:
                if doc is None:
                    self._db.execute(
                        "DELETE FROM entity WHERE kind=? AND parent=? AND id=?", (kind, parent, ident)
                    )
                else:
                    self._seq += 1
                    self._db.execute(
                        "INSERT INTO entity (kind, parent, id, seq, doc) VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT (kind, parent, id) DO UPDATE SET doc = excluded.doc",
                        (kind, parent, ident, self._seq, json.dumps(doc)),
                    )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def put(self, kind: str, ident: str, doc: Document, parent: str = "") -> None:
        with self.transaction():
            self._table(kind, parent)[ident] = doc
            self._pending.append((kind, parent, ident, doc))

    def delete(self, kind: str, ident: str, parent: str = "") -> None:
        with self.transaction():
            self._table(kind, parent).pop(ident, None)
            self._pending.append((kind, parent, ident, None))
            if kind == "job":
                for child, table in (("task", self.tasks), ("prep", self.preps)):
                    for child_id in list(table.get(ident, {})):
                        self._pending.append((child, ident, child_id, None))
                    table.pop(ident, None)
            if kind == "pool":
                for node_id in list(self.nodes.get(ident, {})):
                    self._pending.append(("node", ident, node_id, None))
                self.nodes.pop(ident, None)

    def close(self) -> None:
        with self.lock:
            self._flush()
            self._db.close()
