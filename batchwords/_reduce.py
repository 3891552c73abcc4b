"""The reduce on Batch: how many partitions, where results go, and the tasks that gather them.

Map tasks count and split their counts into P partitions by word; P reduce
tasks each merge one partition of every map task; one summary task merges
the P top-N lists (exact: the partitions are disjoint by word) and every map
task's per-input rows into the job's ``summary.json``, the one blob a client
reads. Batch's own task dependencies order the stages. The whole contract is
in docs/design.md; the file formats are nodetask's (``ReduceManifest``,
``Summary``).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from azure.batch import models as batch_models

import nodetask

from ._tasks import MAP_EXIT, TaskLimits, exit_conditions

#: Input bytes per partition. A reducer holds its partition's distinct words; a text's
#: vocabulary grows slower than its bytes (Heaps' law), so bytes bound it from above.
PARTITION_BYTES = 128 * 1024 * 1024
#: Batch limits a task's ``dependsOn.taskIds`` to 64,000 characters in all; gates keep
#: each list under this.
DEPENDS_CHARS = 60_000
#: The reduce's task ids start with this; a map task's never do (``_tasks.input_id_for``).
REDUCE_MARK = "_"
SUMMARY_TASK = "_summary"
GATE_MARK = f"{REDUCE_MARK}gate-"

#: A reduce task that failed ends the job: nothing waits for, or reports, a partial merge.
REDUCE_EXIT = batch_models.ExitOptions(job_action="terminate", dependency_action="block")


def partitions_for(total_bytes: int) -> int:
    """P for a job set of ``total_bytes`` of current inputs: one partition per
    ``PARTITION_BYTES``, rounded up to a power of two, at most ``nodetask.MAX_PARTITIONS``."""
    wanted = max(1, -(-total_bytes // PARTITION_BYTES))
    return min(nodetask.MAX_PARTITIONS, 1 << (wanted - 1).bit_length())


def is_reduce_task(task_id: str) -> bool:
    return task_id.startswith(REDUCE_MARK)


def in_reduce_stage(task_id: str) -> bool:
    """Whether a task is a reduce or the summary (a gate belongs to the map stage)."""
    return is_reduce_task(task_id) and not task_id.startswith(GATE_MARK)


def reduce_task_id(partition: int, partitions: int) -> str:
    return f"{REDUCE_MARK}reduce-{partition:05d}-of-{partitions:05d}"


def job_prefix(job_set: str, job_id: str) -> str:
    """Where a job's reduce reads its manifest and writes its results: ``SET/jobs/JOB/``."""
    return f"{job_set}/jobs/{job_id}/"


def manifest_blob(job_set: str, job_id: str) -> str:
    return job_prefix(job_set, job_id) + nodetask.MANIFEST_NAME


def summary_blob(job_set: str, job_id: str) -> str:
    return job_prefix(job_set, job_id) + nodetask.SUMMARY_NAME


def gate_groups(map_ids: Sequence[str]) -> list[list[str]]:
    """``map_ids`` cut into lists of at most ``DEPENDS_CHARS`` characters, in order."""
    groups: list[list[str]] = []
    size = 0
    for task_id in map_ids:
        if not groups or size + len(task_id) > DEPENDS_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(task_id)
        size += len(task_id)
    return groups


def _task(
    task_id: str,
    display_name: str,
    command_line: str,
    depends_on: Sequence[str],
    *,
    limits: TaskLimits,
    exit_options: batch_models.ExitOptions,
    environment: Sequence[batch_models.EnvironmentSetting] = (),
) -> batch_models.BatchTaskCreateOptions:
    return batch_models.BatchTaskCreateOptions(
        id=task_id,
        display_name=display_name,
        command_line=command_line,
        depends_on=batch_models.BatchTaskDependencies(task_ids=list(depends_on)) if depends_on else None,
        exit_conditions=exit_conditions(exit_options),
        environment_settings=list(environment) or None,
        constraints=batch_models.BatchTaskConstraints(
            max_wall_clock_time=limits.max_wall_clock,
            retention_time=limits.retention,
            max_task_retry_count=limits.max_retries,
        ),
    )


def reduce_stages(
    *,
    job_set: str,
    job_id: str,
    map_ids: Sequence[str],
    partitions: int,
    container_url: str,
    write_sas: str,
    read_sas: str,
    limits: TaskLimits,
    command: str,
) -> list[list[batch_models.BatchTaskCreateOptions]]:
    """The tasks after the map, stage by stage (each added after the one before): gates when
    the map tasks' ids are too many for one ``dependsOn``, the P reduce tasks, the summary."""
    stages: list[list[batch_models.BatchTaskCreateOptions]] = []
    parents = list(map_ids)
    if sum(len(task_id) for task_id in parents) > DEPENDS_CHARS:
        groups = gate_groups(parents)
        gates = [
            _task(
                f"{GATE_MARK}{index:05d}",
                f"gate {index + 1} of {len(groups)}",
                "/bin/true",
                group,
                limits=limits,
                exit_options=MAP_EXIT,
            )
            for index, group in enumerate(groups)
        ]
        stages.append(gates)
        parents = [str(gate.id) for gate in gates]
    environment = [
        batch_models.EnvironmentSetting(name=nodetask.SAS_ENV, value=write_sas),
        batch_models.EnvironmentSetting(name=nodetask.READ_SAS_ENV, value=read_sas),
    ]
    manifest = manifest_blob(job_set, job_id)

    def merge(*arguments: str) -> str:
        given = ["merge", "--manifest", manifest, *arguments, "--container-url", container_url, "--quiet"]
        script = f"exec {command} " + " ".join(shlex.quote(argument) for argument in given)
        return f"/bin/sh -c {shlex.quote(script)}"

    reducers = [
        _task(
            reduce_task_id(partition, partitions),
            f"reduce partition {partition + 1} of {partitions}",
            merge("--partition", str(partition)),
            parents,
            limits=limits,
            exit_options=REDUCE_EXIT,
            environment=environment,
        )
        for partition in range(partitions)
    ]
    summary = _task(
        SUMMARY_TASK,
        f"summary of job {job_id}",
        merge("--summary"),
        [str(task.id) for task in reducers],
        limits=limits,
        exit_options=REDUCE_EXIT,
        environment=environment,
    )
    return [*stages, reducers, [summary]]
