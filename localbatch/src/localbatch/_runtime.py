"""What every room of one local Batch account shares: identity, store, lock and threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._realism import Realism
from ._runner import AutoStorage
from ._store import Store

logger = logging.getLogger(__name__)


class Runtime:
    """The account's name and data folder, its store, and the threads working on it.

    ``wake`` is a condition on the store's lock: holding it is holding the
    account's lock, and notifying it wakes the scheduler. ``realism`` says how
    slow and unreliable the rooms are to be.
    """

    def __init__(
        self,
        data_dir: Path,
        account: str,
        auto_storage: AutoStorage | None,
        scheduler_interval: float,
        realism: Realism,
        *,
        shared_dir: Path | None = None,
    ) -> None:
        # Absolute: every AZ_BATCH_* path is built from it, and tasks run in other folders.
        data_dir = data_dir.resolve()
        self.data_dir = data_dir
        self.account = account
        self.auto_storage = auto_storage
        self.base_url = ""
        # The store holds every task's environment (SAS tokens among them): the owner's only.
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        data_dir.chmod(0o700)
        self.store = Store(data_dir / "localbatch.db")
        self.wake = threading.Condition(self.store.lock)
        self.stopping = threading.Event()
        self.interval = scheduler_interval
        self.realism = realism
        #: Every node's AZ_BATCH_NODE_SHARED_DIR when set (``LocalBatch``'s ``shared_dir``).
        self.shared_dir = shared_dir.resolve() if shared_dir else None
        if self.shared_dir:
            self.shared_dir.mkdir(parents=True, exist_ok=True)
        self._threads: set[threading.Thread] = set()

    def spawn(self, target: Callable[..., Any], *args: Any, name: str) -> None:
        """Run ``target(*args)`` on a daemon thread that ``join_threads`` waits for."""

        def run() -> None:
            try:
                target(*args)
            except Exception:
                logger.exception("%s failed", name)
            finally:
                self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.add(thread)
        thread.start()

    def join_threads(self, timeout: float) -> None:
        for thread in list(self._threads):
            thread.join(timeout=timeout)
