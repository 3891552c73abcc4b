"""The ``nodetask`` command: count the top N words of one file and upload the result."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from . import _contract as contract
from ._contract import MAX_PARTITIONS, SAS_ENV
from ._count import ENGINES
from ._counting import count_input, report_failures
from ._exceptions import ExitCode, InputError, NodetaskError, UsageError
from ._files import write_atomically
from ._inputs import Input, gather_inputs, gather_task_inputs
from ._options import partition_count, positive
from ._report import ErrorRecord, counts_file_bytes

if TYPE_CHECKING:
    from ._upload import OutputBlob, ResultUploader

EXIT_CODES_HELP = "\n".join(f"  {code.value}  {code.name.lower().replace('_', ' ')}" for code in ExitCode)


def version() -> str:
    """The installed distribution's version ("unknown" when run from a source tree)."""
    try:
        return metadata.version("batchwords-nodetask")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodetask",
        description=(
            "Count the top N words of UTF-8 text files (the 2016 Azure Batch "
            "tutorial's rule), write each result beside its input and upload it to a "
            "blob container with a write-only SAS. Several inputs are counted one "
            "after the other, each with its own results; one that cannot be counted "
            "is reported (and its _ERROR.json uploaded) and the others still are. "
            "With --task-output it is a map task; 'nodetask merge --help' tells the reduce."
        ),
        epilog=(
            "Words: split on whitespace, ASCII punctuation stripped from both ends, "
            "case-sensitive unless --ignore-case; empty tokens and a leading "
            "byte-order mark are dropped. Ties: count descending, then the word "
            "in code-point order.\n\nExit codes:\n" + EXIT_CODES_HELP
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    given = parser.add_argument_group("inputs (at least one)")
    given.add_argument(
        "--filepath",
        action="append",
        default=[],
        metavar="FILE",
        help="a text file to count, its results under --blob-prefix; repeat for several",
    )
    given.add_argument(
        "--input",
        nargs=2,
        action="append",
        default=[],
        metavar=("FILE", "BLOB_PREFIX"),
        help="a text file to count and the blob prefix of its own results (with --task-output: "
        "the input's id); repeat for several",
    )
    given.add_argument(
        "--manifest",
        metavar="MANIFEST",
        help="a UTF-8 file listing inputs, one per line: FILE, or FILE<TAB>BLOB_PREFIX",
    )
    parser.add_argument(
        "--numwords", type=positive("--numwords", 1), default=10, help="how many top words (default 10)"
    )
    where = parser.add_argument_group("upload destination")
    where.add_argument(
        "--container-url",
        help="full container URL, e.g. an emulator's http://127.0.0.1:PORT/devstoreaccount1/output",
    )
    where.add_argument("--storageaccount", help="storage account name (with --storagecontainer)")
    where.add_argument("--storagecontainer", help="container name (with --storageaccount)")
    where.add_argument(
        "--endpoint-suffix",
        default="core.windows.net",
        help="blob endpoint suffix (default core.windows.net)",
    )
    where.add_argument(
        "--sastoken",
        help=f"container SAS with create+write permission; prefer the {SAS_ENV} environment variable, "
        "which keeps it off the command line",
    )
    where.add_argument(
        "--blob-prefix", default="", help="prefix for the uploaded blob names, e.g. JOB/ (default none)"
    )
    where.add_argument("--no-upload", action="store_true", help="only write the result locally")
    where.add_argument("--overwrite", action="store_true", help="replace an existing, different result")
    where.add_argument(
        "--retries", type=positive("--retries", 0), default=3, help="storage retries (default 3)"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", help="where to write the result (default: beside the input)")
    out.add_argument("--format", choices=("text", "json"), help="result format (default text)")
    out.add_argument(
        "--ignore-case", action="store_true", help="count words case-insensitively (lower-cased)"
    )
    out.add_argument(
        "--errors",
        choices=("strict", "replace"),
        default="strict",
        help="undecodable bytes: fail (strict, default) or count with U+FFFD (replace)",
    )
    out.add_argument("--allow-empty", action="store_true", help="accept an input with no words")
    out.add_argument(
        "--workers",
        type=positive("--workers", 1),
        default=1,
        help="threads counting one large file with the Arrow engine (default 1)",
    )
    out.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="counting engine: arrow (pyarrow compute), python (the reference, no dependency) or "
        "auto (default: arrow, but python for files under 2 MiB, whose start-up it wins)",
    )
    out.add_argument("--quiet", action="store_true", help="do not print the result table")
    task = parser.add_argument_group("task mode: a map task of docs/design.md")
    task.add_argument(
        "--task-output",
        metavar="PREFIX",
        help="write the inputs' counts as --partitions Parquet files and results.json under this "
        "blob prefix (ending with '/', e.g. SET/tasks/TASK/; locally under --output-dir, default .); "
        "--input's second value is then the input's id",
    )
    task.add_argument(
        "--partitions",
        type=partition_count,
        metavar="P",
        help=f"count partitions of a map task: a power of two from 1 to {MAX_PARTITIONS} (default 1)",
    )
    return parser


def _resolve_destination(args: argparse.Namespace) -> tuple[str, str] | None:
    """(container URL without SAS, SAS) or None for --no-upload."""
    if args.no_upload:
        return None
    from ._upload import container_url_for, redact  # noqa: PLC0415 (heavy: see run())

    url: str | None = args.container_url
    if url and (args.storageaccount or args.storagecontainer):
        raise UsageError("give either --container-url or --storageaccount/--storagecontainer, not both")
    if not url:
        if not (args.storageaccount and args.storagecontainer):
            raise UsageError(
                "no upload destination: give --container-url, or --storageaccount and "
                "--storagecontainer, or pass --no-upload to keep the result local"
            )
        url = container_url_for(args.storageaccount, args.storagecontainer, args.endpoint_suffix)
    sas = args.sastoken or ""
    if "?" in url:
        url, _, query = url.partition("?")
        if sas and query:
            raise UsageError("the SAS is given twice: in --container-url and in --sastoken; keep one")
        sas = sas or query
    sas = sas or os.environ.get(SAS_ENV, "")
    if not sas:
        raise UsageError(
            f"no SAS for {redact(url)}: set {SAS_ENV} (or --sastoken) to a container SAS "
            "with create+write permission"
        )
    return url.rstrip("/"), sas


#: Bytes of a local output file name: file systems allow 255, and its temporary name needs room.
MAX_LOCAL_NAME = 200


def local_name(name: str) -> str:
    """A result file's local name: ``name``, or for a very long input name its first bytes,
    a digest of the whole and its suffix (``_OUTPUT.json``); the blob keeps the full name."""
    raw = name.encode("utf-8")
    if len(raw) <= MAX_LOCAL_NAME:
        return name
    cut = max(name.rfind("_OUTPUT"), name.rfind("_COUNTS"))
    stem, tail = (name[:cut], name[cut:]) if cut > 0 else (name, "")
    digest = hashlib.sha256(raw).hexdigest()[:12]
    room = MAX_LOCAL_NAME - len(tail.encode("utf-8")) - len(digest) - 1
    short = stem.encode("utf-8")[: max(room, 1)].decode("utf-8", errors="ignore")
    return f"{short}~{digest}{tail}"


def _uploader(args: argparse.Namespace) -> ResultUploader | None:
    destination = _resolve_destination(args)
    if destination is None:
        return None
    # Imported only to upload: azure-storage-blob is heavy for a local count.
    from ._upload import ResultUploader  # noqa: PLC0415

    container_url, sas = destination
    return ResultUploader(container_url, sas, retries=args.retries)


def _run_task(args: argparse.Namespace) -> int:
    """Task mode (``--task-output``): the map of docs/design.md."""
    if args.format == "text":
        raise UsageError(
            "--format text does not apply with --task-output: a map task writes results.json and "
            "Parquet partitions; drop --format"
        )
    if args.blob_prefix:
        raise UsageError("--blob-prefix does not apply with --task-output, which is the blobs' prefix")
    args.partitions = args.partitions or 1
    inputs = gather_task_inputs(args.filepath, args.input, args.manifest)
    try:
        from ._map import run_map  # noqa: PLC0415 (pyarrow: only a map task needs it here)
    except ImportError as exc:
        raise UsageError(
            f"--task-output needs pyarrow, which cannot be imported ({exc}); install it"
        ) from exc
    return run_map(args, inputs, _uploader(args))


def run(args: argparse.Namespace) -> int:
    if args.task_output is not None:
        return _run_task(args)
    if args.partitions is not None:
        raise UsageError("--partitions applies only with --task-output PREFIX (a map task)")
    args.format = args.format or "text"
    inputs = gather_inputs(
        args.filepath,
        args.input,
        args.manifest,
        default_prefix=args.blob_prefix,
        shared_output_dir=args.output_dir is not None,
    )
    uploader = _uploader(args)
    failed: list[Input] = []
    for number, item in enumerate(inputs, start=1):
        label = f"[{number}/{len(inputs)}] {item.name}: " if len(inputs) > 1 else ""
        try:
            _count_one(args, item, uploader, label)
        except InputError as exc:
            # One input that cannot be counted does not stop the others; it is reported
            # here, in its own _ERROR.json, and by the exit code.
            print(f"nodetask: error: {exc}", file=sys.stderr)
            failed.append(item)
            if uploader is not None:
                from ._upload import upload_reported  # noqa: PLC0415

                upload_reported(uploader, _error_blob(item, exc), args.overwrite)
    report_failures([item.path for item in failed], len(inputs))
    return ExitCode.BAD_INPUT if failed else ExitCode.OK


def _count_one(args: argparse.Namespace, item: Input, uploader: ResultUploader | None, label: str) -> None:
    """Count one input, write its results locally and upload them."""
    input_path = item.path
    report = count_input(args, input_path, label)
    counts = report.counts

    output_dir = Path(args.output_dir) if args.output_dir else input_path.parent
    result_name = contract.result_name(input_path.name, args.format)
    counts_name = contract.counts_name(input_path.name)
    rendered = report.to_json() if args.format == "json" else report.to_text()
    counts_data = counts_file_bytes(counts)
    write_atomically(output_dir / local_name(counts_name), counts_data)
    write_atomically(output_dir / local_name(result_name), rendered.encode("utf-8"))
    if not args.quiet:
        sys.stdout.write(rendered)
        written = f"{output_dir / local_name(result_name)} and {local_name(counts_name)}"
        print(f"nodetask: wrote {written}", file=sys.stderr)

    if uploader is not None:
        from ._upload import OutputBlob, upload_reported  # noqa: PLC0415

        content_type = "application/json" if args.format == "json" else "text/plain; charset=utf-8"
        # The counts file first: a result blob means its counts are there too.
        counts_blob = OutputBlob(
            item.blob_prefix + counts_name,
            counts_data,
            "application/gzip",
            digest=hashlib.sha256(counts_data).hexdigest(),
        )
        result_blob = OutputBlob(
            item.blob_prefix + result_name, rendered.encode("utf-8"), content_type, digest=report.digest()
        )
        for blob in (counts_blob, result_blob):
            upload_reported(uploader, blob, args.overwrite)


def _error_blob(item: Input, exc: InputError) -> OutputBlob:
    """The record of an input that could not be counted (the same bytes on every retry)."""
    from ._upload import OutputBlob  # noqa: PLC0415

    data = ErrorRecord(item.name, int(exc.exit_code), str(exc)).to_json().encode("utf-8")
    name = item.blob_prefix + contract.error_name(item.name)
    return OutputBlob(name, data, "application/json", digest=hashlib.sha256(data).hexdigest())


def main(argv: Sequence[str] | None = None) -> int:
    """Run nodetask (``nodetask merge ...``: the merge); returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["merge"]:
        try:
            from ._merge_cli import build_merge_parser, run_merge  # noqa: PLC0415 (pyarrow)
        except ImportError as exc:
            print(
                f"nodetask: error: nodetask merge needs pyarrow, which cannot be imported ({exc})",
                file=sys.stderr,
            )
            return ExitCode.USAGE
        parser, runner, arguments = build_merge_parser(), run_merge, arguments[1:]
    else:
        parser, runner = build_parser(), run
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse has printed the usage error
        return int(exc.code or 0)
    try:
        return runner(args)
    except NodetaskError as exc:
        print(f"nodetask: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nodetask: interrupted", file=sys.stderr)
        return 130


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
