"""`batchwords files`: the old client's file manager (upload, list, find, download)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._output import Column, emit, emit_table
from ._target import add_target_options, clients


def add_parser(commands: Any) -> None:
    files = commands.add_parser("files", help="upload, list, find and download files")
    actions = files.add_subparsers(dest="action", required=True)
    upload_parser = actions.add_parser("upload", help="upload a folder (unchanged files are skipped)")
    upload_parser.add_argument("folder", type=Path, help="folder of files to upload")
    upload_parser.add_argument("--container", default="input", help="container to upload to (default input)")
    upload_parser.add_argument(
        "--follow-links", action="store_true", help="read symbolic links that leave the folder too"
    )
    upload_parser.set_defaults(handler=upload)
    list_parser = actions.add_parser("list", help="list a container")
    list_parser.add_argument("--container", default="input", help="container to list (default input)")
    list_parser.add_argument("--prefix", default="", help="only blobs whose names start with this")
    list_parser.set_defaults(handler=list_files)
    find_parser = actions.add_parser(
        "find", help="find blobs whose name holds TEXT (any case), or matches a glob such as '*.txt'"
    )
    find_parser.add_argument("name", metavar="TEXT", help="part of a name, or a glob with * ? [...]")
    find_parser.add_argument("--container", default="input", help="container to search (default input)")
    find_parser.set_defaults(handler=find)
    download_parser = actions.add_parser("download", help="download a container or a prefix")
    download_parser.add_argument("--dest", type=Path, required=True, help="folder to download into")
    download_parser.add_argument(
        "--container", default="output", help="container to download from (default output)"
    )
    download_parser.add_argument("--prefix", default="", help="only blobs whose names start with this")
    download_parser.set_defaults(handler=download)
    for sub in (upload_parser, list_parser, find_parser, download_parser):
        add_target_options(sub)


def upload(args: argparse.Namespace) -> int:
    storage = clients(args, need_batch=False).storage
    storage.ensure_container(args.container)
    results = storage.upload_folder(
        args.folder,
        args.container,
        progress=lambda i, n, name: print(f"batchwords: {i}/{n} {name}", file=sys.stderr, flush=True),
        follow_links=args.follow_links,
    )
    uploaded = [blob.name for blob, changed in results if changed]
    emit(
        args,
        {"uploaded": uploaded, "unchanged": [blob.name for blob, changed in results if not changed]},
        [f"uploaded {len(uploaded)}, unchanged {len(results) - len(uploaded)} (of {len(results)} files)"],
    )
    return 0


def _show(args: argparse.Namespace, blobs: list[Any]) -> None:
    document = [{"name": b.name, "size": b.size, "md5": b.md5, "url": b.url} for b in blobs]
    rows = [(b.name, f"{b.size:,}") for b in blobs]
    emit_table(args, document, [Column("name"), Column("bytes", "right")], rows, "no files")


def list_files(args: argparse.Namespace) -> int:
    _show(args, clients(args, need_batch=False).storage.list_blobs(args.container, args.prefix))
    return 0


def find(args: argparse.Namespace) -> int:
    found = clients(args, need_batch=False).storage.find(args.container, args.name)
    _show(args, found)
    return 0 if found else 1


def download(args: argparse.Namespace) -> int:
    written = clients(args, need_batch=False).storage.download(args.container, args.dest, prefix=args.prefix)
    emit(args, [str(p) for p in written], [f"downloaded {len(written)} files to {args.dest}"])
    return 0
