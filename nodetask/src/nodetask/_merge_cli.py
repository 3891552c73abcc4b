"""``nodetask merge``: the reduce of one partition, the summary, or both (docs/design.md)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from ._contract import MANIFEST_NAME, READ_SAS_ENV, SAS_ENV, SUMMARY_NAME, partition_result_name
from ._exceptions import ExitCode, UsageError
from ._merge import LocalStore, Store, folder_of, local_manifest, read_manifest, reduce_partition, summarize
from ._options import partition_count, positive
from ._tasks_contract import ReduceManifest, Summary

#: The top N of a local merge without a manifest (the map's default too).
DEFAULT_NUMWORDS = 10


def build_merge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodetask merge",
        description=(
            "Merge map tasks' counts (nodetask --task-output): reduce one partition of a manifest "
            "(--partition P), write the summary from the partitions' results (--summary), or both "
            "(neither option). Outputs go beside the manifest."
        ),
        epilog=(
            "local: nodetask merge --from DIR  takes every results.json under DIR as a map task, "
            "writes DIR/manifest.json, the partitions' results and DIR/summary.json, and prints the "
            f"merged table.\nblobs: --container-url URL reads with the read SAS in {READ_SAS_ENV} and "
            f"writes with the create+write SAS in {SAS_ENV}."
        ),
    )
    parser.add_argument("--manifest", metavar="BLOB", help=f"the reduce's manifest ({MANIFEST_NAME})")
    step = parser.add_mutually_exclusive_group()
    step.add_argument(
        "--partition", type=positive("--partition", 0), metavar="P", help="reduce partition P of the manifest"
    )
    step.add_argument("--summary", action="store_true", help="write the summary from the partitions' results")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--container-url", metavar="URL", help="the container of the blobs (no SAS in it)")
    where.add_argument(
        "--from", dest="from_dir", metavar="DIR", help="a folder: blob names are paths under it"
    )
    local = parser.add_argument_group("a local merge without --manifest")
    local.add_argument(
        "--partitions",
        type=partition_count,
        metavar="P",
        help="partitions (default: the most a map task has)",
    )
    local.add_argument(
        "--numwords",
        type=positive("--numwords", 1),
        help=f"how many top words (default {DEFAULT_NUMWORDS})",
    )
    parser.add_argument(
        "--retries", type=positive("--retries", 0), default=3, help="storage retries (default 3)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the merged table")
    return parser


def _store(args: argparse.Namespace) -> Store:
    if args.from_dir is not None:
        return LocalStore(Path(args.from_dir))
    url: str = args.container_url
    if "?" in url:
        raise UsageError(f"keep the SAS off the command line: set {READ_SAS_ENV} and {SAS_ENV} instead")
    read_sas, write_sas = os.environ.get(READ_SAS_ENV, ""), os.environ.get(SAS_ENV, "")
    if not read_sas or not write_sas:
        missing = " and ".join(
            name for name, sas in ((READ_SAS_ENV, read_sas), (SAS_ENV, write_sas)) if not sas
        )
        raise UsageError(
            f"set {missing}: the merge reads the map's blobs with a read SAS ({READ_SAS_ENV}) and "
            f"writes its results with a create+write SAS ({SAS_ENV})"
        )
    # Imported only for blobs: azure-storage-blob is heavy for a local merge.
    from ._upload import BlobStore  # noqa: PLC0415

    return BlobStore(url.rstrip("/"), read_sas, write_sas, retries=args.retries)


def _manifest(args: argparse.Namespace, store: Store) -> tuple[ReduceManifest, str]:
    """The manifest and the folder the merge writes in."""
    if args.manifest is not None:
        if args.partitions is not None or args.numwords is not None:
            raise UsageError("--partitions and --numwords come from the manifest: drop them")
        return read_manifest(store, args.manifest), folder_of(args.manifest)
    if args.from_dir is None or args.partition is not None or args.summary:
        raise UsageError("give --manifest BLOB (only a local merge, --from DIR, may go without one)")
    manifest = local_manifest(Path(args.from_dir), args.partitions, args.numwords or DEFAULT_NUMWORDS)
    store.write(MANIFEST_NAME, manifest.to_json().encode("utf-8"), "application/json")
    return manifest, ""


def run_merge(args: argparse.Namespace) -> int:
    store = _store(args)
    manifest, folder = _manifest(args, store)
    if args.partition is not None and args.partition >= manifest.partitions:
        raise UsageError(
            f"--partition {args.partition}: the manifest has partitions 0 to {manifest.partitions - 1}"
        )
    steps = (
        [args.partition] if args.partition is not None else [] if args.summary else range(manifest.partitions)
    )
    for p in steps:
        started = time.perf_counter()
        result = reduce_partition(store, manifest, p)
        result = dataclasses.replace(
            result, elapsed_seconds=time.perf_counter() - started, peak_rss_bytes=peak_rss()
        )
        name = folder + partition_result_name(p, manifest.partitions)
        store.write(name, result.to_json().encode("utf-8"), "application/json", result.digest())
    if args.partition is None:
        summary = summarize(store, manifest, folder)
        store.write(folder + SUMMARY_NAME, summary.to_json().encode("utf-8"), "application/json")
        if not args.quiet:
            sys.stdout.write(summary_text(summary))
    return ExitCode.OK


def peak_rss() -> int:
    """This process's peak resident memory in bytes (0 where the platform does not say).

    Linux's ``VmHWM`` first: it starts afresh with the program, whereas ``ru_maxrss``
    keeps the high-water mark of whatever process forked this one (a large parent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource  # noqa: PLC0415 (POSIX only)
    except ImportError:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS: bytes; Linux: KiB


def summary_text(summary: Summary) -> str:
    """The merged table, as a person reads it."""
    rule = "-" * 48
    inputs = len(summary.rows)
    lines = [
        f"Top {summary.numwords} words of {inputs - len(summary.failed)} of {inputs} inputs",
        rule,
        f"Words: {summary.total_words:,} total, {summary.distinct_words:,} distinct",
        rule,
    ]
    if summary.top:
        width = max(4, *(len(word) for word, _ in summary.top))
        count_width = max(5, len(f"{summary.top[0][1]:,}"))
        lines.append(f"{'rank':>4}  {'word':<{width}}  {'count':>{count_width}}")
        for rank, (word, count) in enumerate(summary.top, start=1):
            lines.append(f"{rank:>4}  {word:<{width}}  {count:>{count_width},}")
    else:
        lines.append("(no words)")
    if summary.failed:
        lines += [rule, f"Not counted ({len(summary.failed)}):"]
        for row in summary.failed:
            reason = row.error.error if row.error is not None else "no result"
            lines.append(f"  {row.id} (map task {row.task_id}): {reason}")
    return "\n".join(lines) + "\n"
