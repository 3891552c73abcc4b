"""`batchwords jobs`, `files`, `login`, `whoami` and `config`: the old client's managers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ._credentials import SIGN_IN_MODES, resolve_credentials, sign_in
from ._exceptions import BatchServiceError, ConfigError
from ._jobs import JobManager, TaskCounts
from ._local import state_path, stop_local, use_local
from ._settings import KEYS, Target, config_dir, config_path, load_settings, resolve_target, set_setting
from ._storage import Storage


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-endpoint", help="Batch account endpoint (or BATCHWORDS_BATCH_ENDPOINT)")
    parser.add_argument("--storage-endpoint", help="blob endpoint (or BATCHWORDS_STORAGE_ENDPOINT)")
    parser.add_argument("--stack", help="read the endpoints from this Pulumi stack's outputs")
    parser.add_argument("--local", action="store_true", help="the services a `batchwords run --keep` left up")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def add_commands(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="list, follow, download, cancel and delete jobs")
    job_commands = jobs.add_subparsers(dest="action", required=True)
    for action, text in (
        ("list", "list the jobs"),
        ("status", "a job's state and task counts"),
        ("wait", "wait for a job, with progress"),
        ("outputs", "download a job's outputs"),
        ("cancel", "terminate a job"),
        ("delete", "delete a job"),
    ):
        sub = job_commands.add_parser(action, help=text)
        add_target_options(sub)
        if action != "list":
            sub.add_argument("job", help="job id")
        if action == "wait":
            sub.add_argument("--timeout", type=float, default=3600, help="seconds (default 3600)")
        if action == "outputs":
            sub.add_argument("--dest", type=Path, required=True, help="folder to download into")
            sub.add_argument("--container", default="output", help="output container (default output)")
    files = commands.add_parser("files", help="upload, list, find and download files")
    file_commands = files.add_subparsers(dest="action", required=True)
    upload = file_commands.add_parser("upload", help="upload a folder (unchanged files are skipped)")
    upload.add_argument("folder", type=Path)
    upload.add_argument("--container", default="input")
    listing = file_commands.add_parser("list", help="list a container")
    listing.add_argument("--container", default="input")
    listing.add_argument("--prefix", default="")
    find = file_commands.add_parser("find", help="find blobs by name or prefix")
    find.add_argument("name")
    find.add_argument("--container", default="input")
    download = file_commands.add_parser("download", help="download a container or a prefix")
    download.add_argument("--dest", type=Path, required=True)
    download.add_argument("--container", default="output")
    download.add_argument("--prefix", default="")
    for sub in (upload, listing, find, download):
        add_target_options(sub)
    login = commands.add_parser("login", help="sign in interactively; the session is cached")
    login.add_argument("--mode", choices=SIGN_IN_MODES, default="browser")
    commands.add_parser("whoami", help="which credentials batchwords would use")
    local = commands.add_parser("local", help="the local services a `run --keep` left up")
    local_commands = local.add_subparsers(dest="action", required=True)
    local_commands.add_parser("show", help="their endpoints")
    local_commands.add_parser("stop", help="stop them and forget them")
    config = commands.add_parser("config", help="show or set your defaults")
    config_commands = config.add_subparsers(dest="action", required=True)
    config_commands.add_parser("show", help="print the defaults and the file they live in")
    setter = config_commands.add_parser("set", help="set one default")
    setter.add_argument("key", choices=sorted(KEYS))
    setter.add_argument("value")


def _emit(args: argparse.Namespace, document: Any, table: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    else:
        print("\n".join(table))


def _clients(
    args: argparse.Namespace, *, need_batch: bool = True
) -> tuple[Target, Storage, JobManager | None]:
    if args.local:
        batch_endpoint, storage_endpoint = use_local()
        target = Target(batch_endpoint, storage_endpoint, "local services")
    else:
        target = resolve_target(
            batch_endpoint=args.batch_endpoint,
            storage_endpoint=args.storage_endpoint,
            stack=args.stack,
            need_batch=need_batch,
        )
    credentials = resolve_credentials(state_dir=config_dir())
    storage = Storage(target.storage_endpoint, credentials.storage)
    manager = JobManager(target.batch_endpoint, storage, credentials) if need_batch else None
    return target, storage, manager


def _counts_line(counts: TaskCounts) -> str:
    return (
        f"{counts.completed}/{counts.total} done ({counts.succeeded} succeeded, {counts.failed} failed), "
        f"{counts.running} running, {counts.active} waiting"
    )


def _job_set(manager: JobManager, job_id: str) -> str:
    """The output prefix a job writes under (follow-up jobs share their set's)."""
    job = manager.client.get_job(job_id)
    for item in job.metadata or []:
        if item.name == "batchwords-job-set":
            return str(item.value)
    return job_id


def jobs(args: argparse.Namespace) -> int:
    _, storage, manager = _clients(args)
    assert manager is not None
    try:
        if args.action == "list":
            found = list(manager.client.list_jobs())
            document = [
                {
                    "id": job.id,
                    "state": getattr(job.state, "value", job.state),
                    "pool": job.pool_info.pool_id if job.pool_info else None,
                    "created": job.creation_time,
                }
                for job in found
            ]
            table = [f"{'job':<40} {'state':<12} {'pool':<24} created"]
            table += [f"{d['id']:<40} {d['state']!s:<12} {d['pool']!s:<24} {d['created']}" for d in document]
            _emit(args, document, table if document else ["no jobs"])
            return 0
        if args.action == "status":
            job = manager.client.get_job(args.job)
            counts = manager.task_counts([args.job])
            state = getattr(job.state, "value", job.state)
            _emit(
                args,
                {"id": args.job, "state": state, "task_counts": counts.__dict__},
                [f"job {args.job}: {state}; tasks {_counts_line(counts)}"],
            )
            return 0
        if args.action == "wait":
            last = [""]

            def progress(counts: TaskCounts) -> None:
                line = _counts_line(counts)
                if line != last[0]:
                    last[0] = line
                    print(f"batchwords: {args.job}: {line}", file=sys.stderr, flush=True)

            counts, done = manager.wait(
                [args.job], timeout=args.timeout, poll_interval=2.0, progress=progress
            )
            _emit(
                args,
                {"id": args.job, "done": done, "task_counts": counts.__dict__},
                [f"job {args.job}: {'done' if done else 'still running'}; tasks {_counts_line(counts)}"],
            )
            return 0 if done and counts.failed == 0 else 1
        if args.action == "outputs":
            prefix = _job_set(manager, args.job)
            written = storage.download(args.container, args.dest, prefix=f"{prefix}/")
            _emit(args, [str(p) for p in written], [f"downloaded {len(written)} files to {args.dest}"])
            return 0 if written else 1
        if args.action == "cancel":
            changed = manager.cancel(args.job)
            _emit(
                args,
                {"id": args.job, "terminated": changed},
                [f"job {args.job} {'terminated' if changed else 'was already finished'}"],
            )
            return 0
        deleted = manager.delete(args.job)
        _emit(
            args,
            {"id": args.job, "deleted": deleted},
            [f"job {args.job} {'deleted' if deleted else 'was already gone'}"],
        )
        return 0
    except ResourceNotFoundError as exc:
        raise ConfigError(
            f"job {getattr(args, 'job', '')} does not exist ({exc.error.code if exc.error else 404})"
        ) from exc
    except HttpResponseError as exc:
        raise BatchServiceError(f"the Batch service refused: {exc.message}") from exc


def files(args: argparse.Namespace) -> int:
    _, storage, _ = _clients(args, need_batch=False)
    if args.action == "upload":
        storage.ensure_container(args.container)
        results = storage.upload_folder(
            args.folder,
            args.container,
            progress=lambda i, n, name: print(f"batchwords: {i}/{n} {name}", file=sys.stderr, flush=True),
        )
        uploaded = [blob.name for blob, changed in results if changed]
        _emit(
            args,
            {"uploaded": uploaded, "unchanged": [b.name for b, c in results if not c]},
            [f"uploaded {len(uploaded)}, unchanged {len(results) - len(uploaded)} (of {len(results)} files)"],
        )
        return 0
    if args.action in ("list", "find"):
        blobs = (
            storage.list_blobs(args.container, args.prefix)
            if args.action == "list"
            else storage.find(args.container, args.name)
        )
        document = [{"name": b.name, "size": b.size, "md5": b.md5, "url": b.url} for b in blobs]
        table = [f"{'name':<48} {'bytes':>10}"] + [f"{b.name:<48} {b.size:>10,}" for b in blobs]
        _emit(args, document, table if blobs else ["no files"])
        return 0 if blobs or args.action == "list" else 1
    written = storage.download(args.container, args.dest, prefix=args.prefix)
    _emit(args, [str(p) for p in written], [f"downloaded {len(written)} files to {args.dest}"])
    return 0


def login(args: argparse.Namespace) -> int:
    who = sign_in(args.mode, config_dir())
    print(f"signed in as {who}; later commands reuse this session (BATCHWORDS_SIGN_IN={args.mode})")
    return 0


def whoami(_: argparse.Namespace) -> int:
    credentials = resolve_credentials(state_dir=config_dir())
    print(credentials.source)
    return 0


def config(args: argparse.Namespace) -> int:
    if args.action == "set":
        path = set_setting(args.key, args.value)
        print(f"{args.key} = {args.value} (saved in {path})")
        return 0
    settings = load_settings()
    print(f"# {config_path()}")
    for key, text in KEYS.items():
        print(f"{key} = {settings.get(key, '')}    # {text}")
    return 0


def local(args: argparse.Namespace) -> int:
    if args.action == "stop":
        stopped = stop_local()
        print(f"stopped {len(stopped)} local service processes")
        return 0
    batch_endpoint, storage_endpoint = use_local()
    print(f"localbatch {batch_endpoint}\nAzurite {storage_endpoint}\n(state in {state_path()})")
    return 0


HANDLERS = {"jobs": jobs, "files": files, "login": login, "whoami": whoami, "config": config, "local": local}
