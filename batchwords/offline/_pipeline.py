"""The offline run: the 2016 tutorial's nine steps against Azurite and localbatch.

1 start the services, 2 create the containers, 3 upload the nodetask wheels
and 4 the inputs, 5 create a pool whose StartTask installs nodetask, 6 submit
the job set (the same ``JobSet`` the BatchJob provider's create verb uses),
7 monitor it, 8 download the outputs, 9 delete the containers, the job and the
pool, and stop the services. Each step is a function named for it (``start_services`` ...
``clean_up``); ``run_offline`` runs them in order, each group of steps timed as one of
``STAGES`` by ``Stopwatch.stage``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from .._batch import Batch
from .._counts import fetch_counts
from .._env import NODE_PYTHON
from .._exceptions import BatchServiceError, ConfigError
from .._inputs import Inputs, select_inputs
from .._jobset import JobSet, JobSetOutputs
from .._packing import TASK_BYTES
from .._pool import NodetaskRelease, nodetask_start_task, pool_options
from .._reduce import job_prefix
from .._spec import JobSpec
from .._storage import BlobInfo, Storage, md5_base64
from .._tasks import check_inputs
from .._types import TaskCounts
from .._wheels import locked_files
from ._kept import refuse_if_running, services_dir, start_kept, stop_kept
from ._services import Services, emulators
from ._wheelhouse import build_wheelhouse

POOL_ID = "batchwords-local"
JOB_ID = "batchwords-local"
CONTAINERS = {"application": "application", "input": "input", "output": "output"}
STAGES = ("start services", "upload", "pool ready", "tasks", "download", "clean up")
POOL_READY_TIMEOUT = 300.0
#: The wheels' read SAS: the pool's StartTask and the job's preparation task fetch them.
WHEEL_SAS = timedelta(hours=2)

Say = Callable[[str], None]


@dataclass
class RunResult:
    #: The job set's outputs, as the BatchJob resource reports them.
    outputs: JobSetOutputs
    #: The downloaded output files.
    files: list[Path]
    timings: dict[str, float]
    #: Where they are: the output folder, or where they went when it could not take them.
    output_dir: Path | None = None
    #: Why the output folder could not take them (None: it did).
    download_problem: str | None = None
    #: What the run removed or stopped at its end, one phrase each ("deleted pool ...").
    cleaned_up: list[str] = dataclasses.field(default_factory=list)
    #: What it left up (``keep``), one phrase each.
    kept: list[str] = dataclasses.field(default_factory=list)


def check_output_dir(output_dir: Path) -> None:
    """The output folder can take the results: checked before any work, so none is lost."""
    existing = next((p for p in (output_dir, *output_dir.parents) if p.exists()), Path("."))
    if existing == output_dir and not output_dir.is_dir():
        raise ConfigError(f"--output-dir {output_dir} is a file; give a folder")
    if not existing.is_dir():
        raise ConfigError(f"--output-dir {output_dir} is under {existing}, which is a file; give a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"--output-dir {output_dir}: {existing} is not writable; give a folder you may write"
        )


def download_results(
    run: Connected, job_set: JobSet, outputs: JobSetOutputs, options: RunOptions
) -> tuple[list[Path], Path, str | None]:
    """The last job's summary and merged results (and with ``options.counts`` every counted
    input's full counts) in the output folder; if it fails there, in a new temporary folder
    instead (computed results are never thrown away). Returns (files, folder, problem)."""

    def fetch(folder: Path) -> list[Path]:
        last = job_set.job_ids[-1]
        files = run.storage.download(CONTAINERS["output"], folder, prefix=job_prefix(JOB_ID, last))
        if options.counts and outputs.failure is None:
            counted = {task.input_id: name for name, task in outputs.tasks.items() if task.failure is None}
            files += fetch_counts(
                run.storage,
                job_set.where,
                last,
                folder,
                names=counted,
                progress=lambda done, total, _: options.say(f"counts {done}/{total} map tasks"),
            )
        return files

    try:
        return fetch(options.output_dir), options.output_dir, None
    except OSError as exc:
        problem = f"writing the outputs to {options.output_dir} failed ({exc})"
    fallback = Path(tempfile.mkdtemp(prefix="batchwords-results-"))
    options.say(f"{problem}; downloading them to {fallback} instead")
    return fetch(fallback), fallback, problem


@contextmanager
def services(work_dir: Path, *, keep: bool, given: Services | None = None) -> Iterator[Services]:
    """``given`` services, in-process emulators stopped on exit, or (``keep``) detached ones
    recorded for `--local`, stopped only if the run fails."""
    if given is not None:
        yield given
        return
    if not keep:
        with emulators(work_dir) as started:
            yield started
        return
    kept = start_kept(work_dir)
    try:
        yield kept
    except BaseException:
        stop_kept()
        raise


def input_files(data_dir: Path, *, exclude: Sequence[Path] = (), follow_links: bool = False) -> Inputs:
    """The run's inputs, every one checked before any upload (see ``select_inputs``), task ids
    included: names that would collapse to one are refused here, not after the upload."""
    inputs = select_inputs(data_dir, exclude=exclude, follow_links=follow_links)
    check_inputs({name: md5_base64(path) for name, path in inputs.files.items()})
    return inputs


@dataclass(frozen=True)
class RunOptions:
    """How an offline run goes: the job's parameters, the pool's size, and who hears about it."""

    numwords: int
    output_dir: Path
    nodes: int = 2
    slots: int = 2
    wait_timeout: float = 900
    #: Leave the services, containers, job and pool up for `--local` (see ``services``).
    keep: bool = False
    #: Services already running; None: the run starts its own.
    given: Services | None = None
    say: Say = print
    progress: Callable[[TaskCounts], None] | None = None
    follow_links: bool = False
    task_bytes: int = TASK_BYTES
    #: Also download every counted input's full counts (by default: the summary only).
    counts: bool = False


class Stopwatch:
    """The run's timings, one per ``STAGES`` name, each recorded by ``stage``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Times the block as stage ``name`` (recorded when it ends without an exception)."""
        mark = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - mark


@dataclass(frozen=True)
class Connected:
    """The started services, and the clients the steps use to talk to them."""

    where: Services
    storage: Storage
    batch: Batch


def job_spec(options: RunOptions) -> JobSpec:
    """The job set's spec, checked before any work; the nodetask release joins it once the
    wheels are uploaded."""
    return JobSpec(
        job_set=JOB_ID,
        pool_id=POOL_ID,
        input_container=CONTAINERS["input"],
        output_container=CONTAINERS["output"],
        numwords=options.numwords,
        task_bytes=options.task_bytes,
        pool_slots=options.nodes * options.slots,
    )


def work_dir(keep: bool) -> Path:
    """The services' folder: the kept session's (emptied), or a new temporary one."""
    if not keep:
        return Path(tempfile.mkdtemp(prefix="batchwords-run-"))
    refuse_if_running()  # before touching the data of a session that is still up
    work = services_dir()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def start_services(running: ExitStack, options: RunOptions) -> Connected:
    """Step 1: the services (stopped when ``running`` closes) and clients for them."""
    work = work_dir(options.keep)
    if not options.keep:
        running.callback(shutil.rmtree, work, ignore_errors=True)
    where = running.enter_context(services(work, keep=options.keep, given=options.given))
    options.say(f"services: Batch {where.batch_endpoint}, Storage {where.storage_endpoint}")
    storage = Storage(where.storage_endpoint, where.credentials.storage)
    # The emulators this run started end a delete in well under a second.
    batch = Batch(where.batch_endpoint, where.credentials.batch, poll_interval=1.0 if options.given else 0.1)
    return Connected(where, storage, batch)


def create_containers(storage: Storage) -> None:
    """Step 2."""
    for container in CONTAINERS.values():
        storage.ensure_container(container)


def upload_wheels(storage: Storage, wheels: Sequence[Path]) -> list[tuple[BlobInfo, bool]]:
    """Step 3: the nodetask wheels and their lock, to the application container."""
    return storage.upload_folder(wheels[0].parent, CONTAINERS["application"])


def upload_inputs(storage: Storage, selected: Inputs, say: Say) -> dict[str, str]:
    """Step 4: the inputs; returns each blob's name and MD5."""
    uploaded = storage.upload_files(
        CONTAINERS["input"],
        selected.files,
        progress=lambda i, n, name: say(f"upload {i}/{n}: {name}"),
    )
    return {blob.name: blob.md5 for blob, _ in uploaded}


def create_pool(
    run: Connected, wheels: Sequence[Path], app: list[tuple[BlobInfo, bool]], options: RunOptions
) -> NodetaskRelease:
    """Step 5: a pool whose StartTask installs nodetask from the uploaded wheels, once ready."""
    release = NodetaskRelease.of(
        locked_files(wheels[0].parent),  # the wheels and their lock, checked by sha256
        {
            blob.name: run.storage.input_sas_url(CONTAINERS["application"], blob.name, WHEEL_SAS)
            for blob, _ in app
        },
        python=os.environ.get(NODE_PYTHON) or sys.executable,
        # Nothing here recovers by waiting: fail fast.
        fetch_wait=30.0,
        attempts=1,
    )
    start_task = nodetask_start_task(release, elevated=False, max_retries=3)
    run.batch.create_pool(
        pool_options(
            POOL_ID, nodes=options.nodes, slots=options.slots, start_task=start_task.to_batch_model()
        )
    )
    run.batch.wait_for_pool(POOL_ID, timeout=POOL_READY_TIMEOUT, say=options.say)
    return release


def submit_job(run: Connected, spec: JobSpec, release: NodetaskRelease, inputs: dict[str, str]) -> JobSet:
    """Step 6: the job set, as the BatchJob provider's create verb submits it."""
    job_set = JobSet(run.batch, run.storage, dataclasses.replace(spec, nodetask=release))
    job_set.submit(inputs)
    return job_set


def monitor_job(run: Connected, job_set: JobSet, options: RunOptions) -> None:
    """Step 7: wait for the job set to finish; raises if it does not in time."""
    counts, done = job_set.wait(timeout=options.wait_timeout, poll_interval=0.5, progress=options.progress)
    if not done:
        failures = run.batch.preparation_failures(JOB_ID)
        raise BatchServiceError(
            f"the job did not finish within {options.wait_timeout:.0f} s ({counts})"
            + ("; installing nodetask failed on " + "; ".join(failures) if failures else "")
        )


def download_outputs(
    run: Connected, job_set: JobSet, inputs: dict[str, str], options: RunOptions, timings: dict[str, float]
) -> RunResult:
    """Step 8: the job set's outputs, and its output files downloaded (see ``download_results``)."""
    outputs = job_set.outputs(inputs)
    files, landed, problem = download_results(run, job_set, outputs, options)
    return RunResult(outputs, files, timings, landed, problem)


def clean_up(
    running: ExitStack, run: Connected, job_set: JobSet, result: RunResult, options: RunOptions
) -> None:
    """Step 9: delete the job, the pool and the containers, and stop the services this run
    started; with ``keep``, leave all of them up for `--local`."""
    names = ", ".join(CONTAINERS.values())
    if options.keep:
        options.say(f"kept the containers, job {JOB_ID} and pool {POOL_ID}; the services stay up for --local")
        result.kept += [
            f"Azurite at {run.where.storage_endpoint} and localbatch at {run.where.batch_endpoint}",
            f"job {', '.join(job_set.job_ids)}, pool {POOL_ID}, containers {names}",
        ]
    else:
        job_set.delete(outputs=False)  # the containers go next
        run.batch.delete_pool(POOL_ID)
        for container in CONTAINERS.values():
            run.storage.delete_container(container)
        result.cleaned_up += [
            f"deleted job {', '.join(job_set.job_ids)} and pool {POOL_ID}",
            f"deleted containers {names}",
        ]
    # Stops the services this run started (not given ones, and kept ones only on failure).
    running.close()
    if options.given is None and not options.keep:
        result.cleaned_up.append("stopped Azurite and localbatch")


def run_offline(data_dir: Path, options: RunOptions) -> RunResult:
    """The whole pipeline offline; the services are stopped even when it fails."""
    check_output_dir(options.output_dir)
    # An output folder inside the input folder is never read back as input.
    selected = input_files(data_dir, exclude=[options.output_dir], follow_links=options.follow_links)
    for warning in selected.warnings():
        options.say(warning)
    spec = job_spec(options)
    clock = Stopwatch()
    with ExitStack() as running:
        with clock.stage("start services"):
            # From the installed nodetask, cached per content (not from project).
            wheels = build_wheelhouse(options.say)
            run = start_services(running, options)
        with clock.stage("upload"):
            create_containers(run.storage)
            app = upload_wheels(run.storage, wheels)
            inputs = upload_inputs(run.storage, selected, options.say)
        with clock.stage("pool ready"):
            release = create_pool(run, wheels, app, options)
        with clock.stage("tasks"):
            job_set = submit_job(run, spec, release, inputs)
            monitor_job(run, job_set, options)
        with clock.stage("download"):
            result = download_outputs(run, job_set, inputs, options, clock.timings)
        with clock.stage("clean up"):
            clean_up(running, run, job_set, result, options)
    return result
