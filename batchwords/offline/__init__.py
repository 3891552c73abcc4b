"""The offline run: Azurite and localbatch started here, kept services, the nine-step pipeline.

The only part of batchwords that imports localbatch (the ``offline`` extra).
"""

from __future__ import annotations

from ._azurite import Azurite, find_azurite, start_azurite
from ._kept import kept_services, read_state, start_kept, state_path, stop_kept
from ._pipeline import (
    CONTAINERS,
    JOB_ID,
    POOL_ID,
    STAGES,
    RunOptions,
    RunResult,
    input_files,
    run_offline,
    services,
)
from ._services import Services, emulator_credentials, emulators
from ._wheelhouse import build_wheelhouse

__all__ = [
    "CONTAINERS",
    "JOB_ID",
    "POOL_ID",
    "STAGES",
    "Azurite",
    "RunOptions",
    "RunResult",
    "Services",
    "build_wheelhouse",
    "emulator_credentials",
    "emulators",
    "find_azurite",
    "input_files",
    "kept_services",
    "read_state",
    "run_offline",
    "services",
    "start_azurite",
    "start_kept",
    "state_path",
    "stop_kept",
]
