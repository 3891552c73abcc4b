"""The user's defaults (the old Batch Apps client's Configuration) and where targets come from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from .._env import BATCH_ENDPOINT, CONFIG_DIR, STORAGE_ENDPOINT
from .._exceptions import ConfigError
from .._packing import TASK_BYTES, parse_size
from .._spec import NUMWORDS, JobSpec

APP = "batchwords"
#: Keys of the user config file and what they mean.
KEYS = {
    "batch_endpoint": "Batch account endpoint, e.g. https://ACCOUNT.REGION.batch.azure.com",
    "storage_endpoint": "blob endpoint, e.g. https://ACCOUNT.blob.core.windows.net",
    "stack": "Pulumi stack whose outputs give the endpoints",
    "numwords": "default number of top words",
    "task_bytes": "input bytes per task (smaller files are packed together), e.g. 64MB",
    "log_level": "logging level: WARNING, INFO or DEBUG",
}
#: What each key is when it is not set.
DEFAULTS: dict[str, object] = {
    "batch_endpoint": "(none: --local, flags, environment or stack)",
    "storage_endpoint": "(none: --local, flags, environment or stack)",
    "stack": "(none)",
    "numwords": NUMWORDS,
    "task_bytes": f"{TASK_BYTES // 1024**2}MiB",
    "log_level": "WARNING",
}


def config_dir() -> Path:
    return Path(os.environ.get(CONFIG_DIR) or platformdirs.user_config_dir(APP))


def config_path() -> Path:
    return config_dir() / "config.json"


@dataclass(frozen=True)
class Settings:
    """The user config file, parsed once: each key as its type, at its default when not set."""

    batch_endpoint: str | None = None
    storage_endpoint: str | None = None
    stack: str | None = None
    numwords: int = NUMWORDS
    task_bytes: int = TASK_BYTES
    log_level: str = "WARNING"


def parse_setting(key: str, value: object) -> object:
    """One setting as its type; a bad value raises ``ConfigError`` naming the key."""
    if key not in KEYS:
        raise ConfigError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    if key == "numwords":
        text = str(value)
        if isinstance(value, bool) or not text.isdigit():
            raise ConfigError(f"numwords must be a whole number of at least 1 (got {value!r})")
        problems = JobSpec.problems_of(numwords=int(text))
        if problems:
            raise ConfigError("; ".join(f"{name} {reason}" for name, reason in problems), problems)
        return int(text)
    if key == "task_bytes":
        try:
            return parse_size(value if isinstance(value, int) else str(value))
        except ValueError as exc:
            raise ConfigError(f"task_bytes: {exc}") from exc
    if key == "log_level":
        if str(value).upper() not in ("WARNING", "INFO", "DEBUG"):
            raise ConfigError(f"log_level must be WARNING, INFO or DEBUG (got {value!r})")
        return str(value).upper()
    return str(value)


def stored_settings() -> dict[str, Any]:
    """The config file's settings as they were written."""
    path = config_path()
    if not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); fix or delete it") from exc
    if not isinstance(stored, dict):
        raise ConfigError(f"{path} must hold a JSON object; fix or delete it")
    return stored


def load_settings() -> Settings:
    """The config file's settings, each checked; a bad one names the key and the fix."""
    stored = stored_settings()
    values: dict[str, Any] = {}
    for key, value in stored.items():
        if key not in KEYS or value is None:
            continue
        try:
            values[key] = parse_setting(key, value)
        except ConfigError as exc:
            raise ConfigError(
                f"{config_path()}: {exc}; fix it with `batchwords config set {key} ...`", exc.problems
            ) from exc
    return Settings(**values)


def set_setting(key: str, value: str) -> Path:
    """Store one default; the file is replaced atomically."""
    parsed = parse_setting(key, value)
    settings = stored_settings()
    # Sizes stay as written (64MB); the others as their type.
    settings[key] = value if key == "task_bytes" else parsed
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


@dataclass(frozen=True)
class Target:
    batch_endpoint: str
    storage_endpoint: str
    source: str


def project_root() -> Path:
    """The folder holding nodetask/, infra/ and build/ (the current one, or above it)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "nodetask" / "pyproject.toml").exists():
            return folder
    return here


def stack_outputs(stack: str) -> dict[str, Any]:
    """`pulumi stack output --json` for a stack; a clear error without the Pulumi CLI."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise ConfigError(
            f"--stack {stack} needs the Pulumi CLI, which is not installed here; install it, or give "
            "--batch-endpoint and --storage-endpoint"
        )
    # The Pulumi project (Pulumi.yaml and the stack files) lives at the checkout's top.
    project = project_root()
    proc = subprocess.run(
        [pulumi, "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
        cwd=project if (project / "Pulumi.yaml").exists() else None,
    )
    if proc.returncode != 0:
        raise ConfigError(f"pulumi stack output for stack {stack} failed: {proc.stderr.strip()[-400:]}")
    outputs: dict[str, Any] = json.loads(proc.stdout or "{}")
    return outputs


def resolve_target(
    *, batch_endpoint: str | None, storage_endpoint: str | None, stack: str | None, need_batch: bool = True
) -> Target:
    """Flags, then environment variables, then a stack's outputs, then the user config."""
    settings = load_settings()
    batch = batch_endpoint or os.environ.get(BATCH_ENDPOINT)
    storage = storage_endpoint or os.environ.get(STORAGE_ENDPOINT)
    source = "flags and environment"
    stack = stack or (None if (batch and storage) else settings.stack)
    if stack and not (batch and storage):
        outputs = stack_outputs(stack)
        if not outputs:
            # Outputs are written when an update ends: a first `pulumi up` still running has none.
            raise ConfigError(
                f"stack {stack} has no outputs yet (its first `pulumi up` has not finished): pass "
                "--batch-endpoint https://ACCOUNT.REGION.batch.azure.com and --storage-endpoint "
                f"https://ACCOUNT.blob.core.windows.net, with the account names `batchwords preflight "
                f"--stack {stack}` prints"
            )
        batch = batch or outputs.get("batch_account_endpoint")
        storage = storage or outputs.get("blob_endpoint")
        source = f"Pulumi stack {stack}"
    batch = batch or settings.batch_endpoint
    storage = storage or settings.storage_endpoint
    # (flag, environment variable, config key) of each endpoint this command needs and lacks
    missing = [
        names
        for names, value, needed in (
            (("--batch-endpoint", BATCH_ENDPOINT, "batch_endpoint"), batch, need_batch),
            (("--storage-endpoint", STORAGE_ENDPOINT, "storage_endpoint"), storage, True),
        )
        if needed and not value
    ]
    if missing:
        raise ConfigError(
            f"no {' or '.join(flag for flag, _, _ in missing)}: pass it, set "
            f"{'/'.join(env for _, env, _ in missing)}, use --stack NAME, or "
            + " and ".join(f"`batchwords config set {key} ...`" for _, _, key in missing)
        )
    return Target(str(batch or ""), str(storage), source)
