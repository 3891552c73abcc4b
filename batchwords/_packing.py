"""Sizing tasks as Batch recommends: small inputs packed into one task, large ones alone.

Batch's best-practice guide calls tasks of a second or two inefficient (each
has a fixed cost: scheduling, downloads, a process start) and advises about
ten seconds of work or more per task. So inputs are packed, in name order,
into tasks of about ``task_bytes`` input bytes, and spread over the pool's
task slots when there is less work than that per slot. Every input keeps its
own content-addressed id (its results' prefix), and a task's id is derived
from its inputs' ids, so the same new inputs always make the same tasks and a
retried submission converges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from ._storage import BlobInfo
from ._tasks import HASH_CHARS, MAX_ID, TaskPlan, check_inputs, input_id_for, node_path

#: Input bytes per task by default: seconds of counting and downloading on a node (see docs/performance.md).
TASK_BYTES = 256 * 1024 * 1024
#: Inputs per task at most: each is a resource file with a SAS URL (Batch limits the
#: size of a task's resource-file list and of a 100-task request) and costs uploads.
MAX_INPUTS_PER_TASK = 100
#: Characters of ``--input`` arguments per task at most, keeping its command line short.
MAX_ARGUMENT_CHARS = 32_000
#: Hex digits of the digest in a packed task's id.
PACK_HASH_CHARS = 16


def pack_id(input_ids: Iterable[str]) -> str:
    """A packed task's id: its first input's name, its size and a digest of every input id."""
    ids = sorted(input_ids)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:PACK_HASH_CHARS]
    tail = f"-and-{len(ids) - 1}-{digest}"
    stem = ids[0][: -(HASH_CHARS + 1)]  # the first input's sanitised name
    return stem[: MAX_ID - len(tail)] + tail


def _argument_chars(input_id: str, blob: BlobInfo) -> int:
    return len(node_path(input_id, blob.name)) + len(input_id) + 80


def plan_tasks(inputs: list[BlobInfo], *, task_bytes: int = TASK_BYTES, slots: int = 1) -> list[TaskPlan]:
    """The tasks that count ``inputs``; bad inputs raise one ``ConfigError`` naming each problem.

    An input of ``task_bytes`` or more runs alone; smaller ones are packed in name
    order up to the target, which is lowered so the work spreads over ``slots``
    task slots, and up to ``MAX_INPUTS_PER_TASK`` inputs.
    """
    check_inputs({blob.name: blob.md5 for blob in inputs})
    ordered = sorted(inputs, key=lambda blob: blob.name)
    total = sum(blob.size for blob in ordered)
    target = max(1, min(task_bytes, -(-total // max(slots, 1))))
    packs: list[list[tuple[str, BlobInfo]]] = []
    current: list[tuple[str, BlobInfo]] = []
    size = chars = 0
    for blob in ordered:
        member = (input_id_for(blob.name, blob.md5), blob)
        if blob.size >= target:
            packs.append([member])
            continue
        cost = _argument_chars(*member)
        if current and (
            size + blob.size > target
            or len(current) >= MAX_INPUTS_PER_TASK
            or chars + cost > MAX_ARGUMENT_CHARS
        ):
            packs.append(current)
            current, size, chars = [], 0, 0
        current.append(member)
        size += blob.size
        chars += cost
    if current:
        packs.append(current)
    return [
        TaskPlan(pack[0][0] if len(pack) == 1 else pack_id(input_id for input_id, _ in pack), tuple(pack))
        for pack in packs
    ]


_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
}


def parse_size(value: str | int) -> int:
    """A byte size: a whole number of bytes, or one with a unit (``64MB``, ``256MiB``, ``1GB``)."""
    if isinstance(value, int):
        number, unit = value, ""
    else:
        text = value.strip().replace(" ", "").replace("_", "")
        digits = len(text) - len(text.lstrip("0123456789"))
        number_text, unit = text[:digits], text[digits:].upper()
        if not number_text or unit not in _UNITS:
            raise ValueError(
                f"{value!r} is not a size: give bytes, or a number with KB, MB, GB, KiB, MiB or GiB"
            )
        number = int(number_text)
    if number < 1:
        raise ValueError(f"{value!r} is not a size of at least 1 byte")
    return number * _UNITS[unit]
