"""Where a command points and the clients for it: --local, flags, environment, a stack, the config file."""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import dataclass
from importlib import metadata

from .._batch import Batch
from .._credentials import resolve_credentials
from .._exceptions import ConfigError
from .._storage import Storage
from .._wheels import canonical
from ._settings import config_dir, resolve_target

#: The emulator's distribution; an unrelated project on the package index installs an import
#: package named ``localbatch`` too.
LOCALBATCH_DISTRIBUTION = "batchwords-localbatch"


def foreign_localbatch() -> list[str]:
    """Installed distributions other than ours that put files into the ``localbatch`` import package."""
    owners = metadata.packages_distributions().get("localbatch", [])
    return sorted({name for name in owners if canonical(name) != LOCALBATCH_DISTRIBUTION})


def require_offline() -> None:
    """A clear error when the offline extra (localbatch) is not installed, or when the
    ``localbatch`` installed is (also) another project's. Callers then import
    ``batchwords.offline`` where they use it: the extra is optional, so only the commands that run
    the emulators import it, and mypy and readers follow the import."""
    others = foreign_localbatch()
    if others:
        raise ConfigError(
            f"the offline run needs {LOCALBATCH_DISTRIBUTION}, but the import package localbatch here also "
            f"comes from {', '.join(others)} (an unrelated project with the same name): run "
            f"`pip uninstall {' '.join(others)}`, then `pip install --force-reinstall ./localbatch` "
            "in the project, or `make setup`"
        )
    if importlib.util.find_spec("localbatch") is None:
        raise ConfigError(
            "the offline run needs localbatch, which is not installed: install batchwords[offline] "
            "(pip install ./localbatch), or run `make setup` in the project"
        )


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-endpoint", help="Batch account endpoint (or BATCHWORDS_BATCH_ENDPOINT)")
    parser.add_argument("--storage-endpoint", help="blob endpoint (or BATCHWORDS_STORAGE_ENDPOINT)")
    parser.add_argument("--stack", help="read the endpoints from this Pulumi stack's outputs")
    parser.add_argument("--local", action="store_true", help="the services a `batchwords run --keep` left up")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


@dataclass(frozen=True)
class Clients:
    storage: Storage
    batch: Batch | None

    def need_batch(self) -> Batch:
        assert self.batch is not None  # built with need_batch=True
        return self.batch


def clients(args: argparse.Namespace, *, need_batch: bool = True) -> Clients:
    """Clients for the target the options name; credentials are values, never the environment's."""
    if args.local:
        require_offline()
        from ..offline import kept_services  # noqa: PLC0415 (the optional extra, when used)

        services = kept_services()
        batch_endpoint, storage_endpoint = services.batch_endpoint, services.storage_endpoint
        credentials = services.credentials
    else:
        target = resolve_target(
            batch_endpoint=args.batch_endpoint,
            storage_endpoint=args.storage_endpoint,
            stack=args.stack,
            need_batch=need_batch,
        )
        batch_endpoint, storage_endpoint = target.batch_endpoint, target.storage_endpoint
        credentials = resolve_credentials(state_dir=config_dir())
    storage = Storage(storage_endpoint, credentials.storage)
    batch = Batch(batch_endpoint, credentials.batch) if need_batch else None
    return Clients(storage, batch)
