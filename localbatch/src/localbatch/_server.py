"""Run localbatch: in-process (a context manager) or as ``localbatch serve``."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import secrets
import threading
from pathlib import Path
from types import TracebackType

import uvicorn
from azure.core.credentials import AzureNamedKeyCredential

from ._app import build_app
from ._env import SHARED_DIR_ENV
from ._realism import Realism
from ._runner import AutoStorage
from ._service import BatchService

logger = logging.getLogger(__name__)


def _shared_dir_from_env() -> Path | None:
    value = os.environ.get(SHARED_DIR_ENV)
    return Path(value) if value else None


def new_key() -> str:
    """A random account key in the service's format (base64 of 64 bytes)."""
    return base64.b64encode(secrets.token_bytes(64)).decode("ascii")


class LocalBatch:
    """A local Batch service on a loopback port; stop() (or ``with``) ends it. ``realism``
    makes it as slow and unreliable as Azure Batch (see ``Realism``); ``autoscale_period``
    (seconds, for tests) replaces the service's autoscale beat (30 s samples, evaluations at
    each pool's interval of at least 5 minutes).

    ``shared_dir`` (or ``$LOCALBATCH_SHARED_DIR``) is one folder that every node, of every
    pool and every instance, takes as its ``AZ_BATCH_NODE_SHARED_DIR``: what one node installs
    there the next finds, as one Azure node finds it on its next job (for tests that start many
    pools; by default each node has its own, as on Azure).

    >>> with LocalBatch(data_dir) as batch:
    ...     client = BatchClient(batch.endpoint, batch.credential)
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        account: str = "localbatch",
        key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_storage: AutoStorage | None = None,
        scheduler_interval: float = 0.5,
        realism: Realism | None = None,
        autoscale_period: float | None = None,
        shared_dir: Path | None = None,
    ) -> None:
        self.account = account
        self.key = key or new_key()
        base64.b64decode(self.key, validate=True)  # a clear error now, not a 403 later
        self.host = host
        self.port = port
        self.service = BatchService(
            Path(data_dir),
            account,
            auto_storage=auto_storage,
            scheduler_interval=scheduler_interval,
            realism=realism,
            autoscale_period=autoscale_period,
            shared_dir=shared_dir or _shared_dir_from_env(),
        )
        app = build_app(self.service, {account: self.key})
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                # The protocol middleware sends the one Date header, as the service does.
                date_header=False,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def events(self) -> dict[str, int]:
        """What the realism profile did so far: transient errors, lost answers, preemptions."""
        return dict(self.service.events)

    @property
    def credential(self) -> AzureNamedKeyCredential:
        return AzureNamedKeyCredential(self.account, self.key)

    def start(self) -> LocalBatch:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            async def serve() -> None:
                config = self._server.config
                if not config.loaded:
                    config.load()
                self._server.lifespan = config.lifespan_class(config)
                await self._server.startup()
                if self._server.should_exit:
                    failure.append(RuntimeError(f"localbatch could not listen on {self.host}:{self.port}"))
                    ready.set()
                    return
                sockets = [s for server in self._server.servers for s in server.sockets]
                self.port = sockets[0].getsockname()[1]
                ready.set()
                await self._server.main_loop()
                await self._server.shutdown()

            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # surfaced to start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="localbatch-http", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failure or not ready.is_set():
            self.service.stop()
            raise RuntimeError(f"localbatch did not start: {failure[0] if failure else 'timeout'}")
        self.service.start(self.endpoint)
        logger.info("localbatch serving account %s at %s", self.account, self.endpoint)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.service.stop()

    def __enter__(self) -> LocalBatch:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # Faults on demand, for tests (also served under /localbatch/faults/).
    def throttle(self, count: int, status: int = 503, retry_after: int | None = None) -> None:
        self.service.throttle(count, status, retry_after)

    def fail_start_tasks(self, pool_id: str, count: int = 1) -> None:
        self.service.fail_start_tasks(pool_id, count)

    def preempt_node(self, pool_id: str, node_id: str) -> None:
        self.service.preempt_node(pool_id, node_id)
