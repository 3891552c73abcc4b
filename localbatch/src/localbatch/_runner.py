"""Running one task on a local node: resource files, the process, output files."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shlex
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from azure.core.exceptions import AzureError
from azure.storage.blob import BlobClient, ContainerClient

logger = logging.getLogger(__name__)
#: Variables passed through from the service's own environment to every task.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class AutoStorage:
    """The Storage account a pool is linked to (``autoStorageContainerName``)."""

    account_url: str
    account_name: str
    account_key: str

    def container(self, name: str) -> ContainerClient:
        credential = {"account_name": self.account_name, "account_key": self.account_key}
        return ContainerClient(self.account_url, name, credential=credential)


class StepFailed(Exception):
    """A step before or after the process failed; becomes the task's failureInfo."""

    def __init__(self, code: str, message: str, category: str = "usererror") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.category = category

    def failure_info(self) -> dict[str, Any]:
        return {"category": self.category, "code": self.code, "message": self.message}


@dataclass
class Outcome:
    """How one attempt ended."""

    exit_code: int | None
    failure: StepFailed | None = None
    timed_out: bool = False
    killed: bool = False


def retried(outcome: Outcome, retries_done: int, max_retries: int) -> bool:
    """Batch's rule for tasks, StartTasks and preparation tasks alike: a process that ran and
    exited non-zero is tried again, up to ``maxTaskRetryCount`` (-1: no limit); a failure
    before or after it (a resource file, an upload) or a wall-clock expiry is not."""
    ran_and_failed = outcome.failure is None and not outcome.timed_out and outcome.exit_code != 0
    return ran_and_failed and (max_retries == -1 or retries_done < max_retries)


def redact(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _inside(base: Path, relative: str, what: str) -> Path:
    target = (base / relative).resolve()
    if not target.is_relative_to(base.resolve()):
        raise StepFailed(
            "ResourceFileDownloadFailed", f"{what} {relative!r} points outside the working directory"
        )
    return target


def _chmod(path: Path, mode: object) -> None:
    if mode is not None:
        path.chmod(int(str(mode), 8))


def download_resource_files(
    files: list[dict[str, Any]], working_dir: Path, auto_storage: AutoStorage | None
) -> None:
    """Fetch every resource file into the working directory, as a node does."""
    for item in files:
        try:
            if item.get("httpUrl"):
                url = item["httpUrl"]
                if urlsplit(url).scheme not in ("http", "https"):
                    raise StepFailed("ResourceFileDownloadFailed", f"httpUrl {redact(url)} is not http(s)")
                target = _inside(working_dir, item["filePath"], "filePath")
                target.parent.mkdir(parents=True, exist_ok=True)
                with (
                    urllib.request.urlopen(url, timeout=60) as response,  # noqa: S310 (scheme checked above)
                    target.open("wb") as out,
                ):
                    shutil.copyfileobj(response, out)
                _chmod(target, item.get("fileMode"))
                continue
            if item.get("storageContainerUrl"):
                container = ContainerClient.from_container_url(item["storageContainerUrl"])
                source = redact(item["storageContainerUrl"])
            else:
                if auto_storage is None:
                    raise StepFailed(
                        "AutoStorageNotConfigured",
                        "autoStorageContainerName needs a pool linked to Storage; start localbatch "
                        "with an auto-storage account",
                    )
                container = auto_storage.container(item["autoStorageContainerName"])
                source = item["autoStorageContainerName"]
            base = _inside(working_dir, item.get("filePath") or ".", "filePath")
            for blob in container.list_blobs(name_starts_with=item.get("blobPrefix") or None):
                target = _inside(base, blob.name, "blob name")
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    container.download_blob(blob.name).readinto(out)
                _chmod(target, item.get("fileMode"))
            logger.debug("downloaded resource files from %s", source)
        except (AzureError, urllib.error.URLError, OSError) as exc:
            where = redact(item.get("httpUrl") or item.get("storageContainerUrl") or "") or item.get(
                "autoStorageContainerName", ""
            )
            raise StepFailed(
                "ResourceFileDownloadFailed", f"Downloading resource file from {where} failed: {exc}"
            ) from exc


def _blob_url(container_url: str, blob_name: str) -> str:
    parts = urlsplit(container_url)
    path = parts.path.rstrip("/") + "/" + quote(blob_name)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def upload_output_files(files: list[dict[str, Any]], working_dir: Path, succeeded: bool) -> list[str]:
    """Upload the output files whose condition holds; returns the blob names."""
    uploaded: list[str] = []
    for item in files:
        condition = str(item.get("uploadOptions", {}).get("uploadCondition", "")).lower()
        if (condition == "tasksuccess" and not succeeded) or (condition == "taskfailure" and succeeded):
            continue
        pattern = item["filePattern"]
        container = item["destination"]["container"]
        matches = sorted(
            Path(match)
            for match in glob.glob(str(working_dir / pattern), recursive=True)
            if Path(match).is_file()
        )
        has_wildcard = glob.has_magic(pattern)
        base = working_dir / pattern.split("*")[0].rsplit("/", 1)[0] if has_wildcard else None
        for match in matches:
            prefix = container.get("path") or ""
            if not has_wildcard:
                name = prefix or match.name
            else:
                relative = match.resolve().relative_to(base.resolve()) if base else Path(match.name)
                name = f"{prefix.rstrip('/')}/{relative.as_posix()}" if prefix else relative.as_posix()
            try:
                blob = BlobClient.from_blob_url(_blob_url(container["containerUrl"], name))
                with match.open("rb") as data:
                    blob.upload_blob(data, overwrite=True)
            except (AzureError, OSError) as exc:
                raise StepFailed(
                    "FileUploadMiscError",
                    f"Uploading {match.name} to {redact(container['containerUrl'])}/{name} failed: {exc}",
                ) from exc
            uploaded.append(name)
    return uploaded


def task_environment(batch_vars: dict[str, str], settings: list[dict[str, Any]]) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(batch_vars)
    for setting in settings:
        env[str(setting["name"])] = str(setting.get("value") or "")
    return env


class Attempt:
    """One run of a command line; ``kill()`` may be called from another thread."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.killed = False

    def kill(self) -> None:
        """End the attempt from outside (requeue, terminate, delete)."""
        self.killed = True
        self._kill_group()

    def _kill_group(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def run(
        self,
        command_line: str,
        *,
        task_dir: Path,
        working_dir: Path,
        env: dict[str, str],
        timeout: float | None,
    ) -> Outcome:
        """Run as a Linux node does: no shell, stdout/stderr in the task directory."""
        try:
            argv = shlex.split(command_line)
        except ValueError as exc:
            return Outcome(
                None, StepFailed("CommandLineInvalid", f"The command line cannot be parsed: {exc}")
            )
        if not argv:
            return Outcome(None, StepFailed("CommandLineInvalid", "The command line is empty."))
        with (task_dir / "stdout.txt").open("ab") as out, (task_dir / "stderr.txt").open("ab") as err:
            try:
                if self.killed:
                    return Outcome(None, killed=True)
                self.process = subprocess.Popen(
                    argv,
                    cwd=working_dir,
                    env=env,
                    stdout=out,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # a process group: kill() ends its children too
                )
            except FileNotFoundError:
                return Outcome(
                    None, StepFailed("CommandProgramNotFound", f"The program {argv[0]!r} was not found.")
                )
            except PermissionError:
                return Outcome(
                    None, StepFailed("CommandProgramNotFound", f"The program {argv[0]!r} is not executable.")
                )
            try:
                code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.process.wait()
                return Outcome(self.process.returncode, timed_out=True)
        return Outcome(code, killed=self.killed)
