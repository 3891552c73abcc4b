"""`batchwords login`, `whoami`, `config` and `local`: sign-in, settings and the kept services."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._credentials import SIGN_IN_MODES, identity, resolve_credentials, sign_in
from ._output import Column, emit, emit_table
from ._settings import DEFAULTS, KEYS, config_dir, config_path, set_setting, stored_settings
from ._target import require_offline


def _json_option(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    return parser


def add_parsers(commands: Any) -> None:
    login_parser = commands.add_parser("login", help="sign in interactively; the session is cached")
    login_parser.add_argument(
        "--mode",
        choices=SIGN_IN_MODES,
        default="browser",
        help="browser (default), or device-code on a machine without a browser",
    )
    login_parser.set_defaults(handler=login)
    whoami_parser = commands.add_parser(
        "whoami", help="who batchwords acts as: user or service principal, tenant, subscription"
    )
    _json_option(whoami_parser).set_defaults(handler=whoami)
    local = commands.add_parser("local", help="the local services a `run --keep` left up")
    local_actions = local.add_subparsers(dest="action", required=True)
    _json_option(local_actions.add_parser("show", help="their endpoints")).set_defaults(handler=local_show)
    local_actions.add_parser("stop", help="stop them and forget them").set_defaults(handler=local_stop)
    config = commands.add_parser("config", help="show or set your defaults")
    config_actions = config.add_subparsers(dest="action", required=True)
    shower = config_actions.add_parser("show", help="print the defaults and the file they live in")
    _json_option(shower).set_defaults(handler=config_show)
    setter = config_actions.add_parser("set", help="set one default")
    setter.add_argument("key", choices=sorted(KEYS), help="the setting (config show lists them)")
    setter.add_argument("value", help="its new value")
    setter.set_defaults(handler=config_set)


def login(args: argparse.Namespace) -> int:
    def warn(text: str) -> None:
        print(f"batchwords: warning: {text}", file=sys.stderr, flush=True)

    who = sign_in(args.mode, config_dir(), warn=warn)
    print(f"signed in as {who}; later commands reuse this session (BATCHWORDS_SIGN_IN={args.mode})")
    return 0


def whoami(args: argparse.Namespace) -> int:
    found = identity(resolve_credentials(state_dir=config_dir()))
    if found["kind"] == "shared key":
        lines = [
            f"Shared Key: Batch account {found['batch_account']}, Storage account {found['storage_account']}",
            f"  {found['note']}",
        ]
    else:
        subscription = found["subscription"]
        where = (
            f"{subscription['id']} {subscription['name']}".strip()  # type: ignore[index]
            if subscription
            else "(unknown: set AZURE_SUBSCRIPTION_ID, or `az account set`)"
        )
        lines = [
            f"{found['kind']}: {found['name'] or '(no name in the token)'}",
            f"  object id     {found['object_id']}",
            f"  tenant        {found['tenant_id']}",
            f"  subscription  {where}",
        ]
    emit(args, found, [*lines, f"  credentials   {found['source']}"])
    return 0


def config_set(args: argparse.Namespace) -> int:
    path = set_setting(args.key, args.value)
    print(f"{args.key} = {args.value} (saved in {path})")
    return 0


def config_show(args: argparse.Namespace) -> int:
    stored = stored_settings()
    document = {
        "file": str(config_path()),
        "settings": {
            key: {"value": stored.get(key, DEFAULTS[key]), "default": key not in stored, "meaning": text}
            for key, text in KEYS.items()
        },
    }
    rows = [
        (key, value["value"], "default" if value["default"] else "set", value["meaning"])
        for key, value in document["settings"].items()  # type: ignore[attr-defined]
    ]
    if not args.json:
        print(f"# {config_path()}")
    columns = [Column("key"), Column("value"), Column("from"), Column("meaning")]
    emit_table(args, document, columns, rows, "no settings")
    return 0


def local_show(args: argparse.Namespace) -> int:
    require_offline()
    from .. import offline as kept  # noqa: PLC0415 (the optional extra, when used)

    services = kept.kept_services()
    document = {
        "batch_endpoint": services.batch_endpoint,
        "storage_endpoint": services.storage_endpoint,
        "state": str(kept.state_path()),
    }
    lines = [
        f"localbatch {services.batch_endpoint}",
        f"Azurite {services.storage_endpoint}",
        f"(state in {kept.state_path()})",
    ]
    emit(args, document, lines)
    return 0


def local_stop(_: argparse.Namespace) -> int:
    require_offline()
    from .. import offline as kept  # noqa: PLC0415 (the optional extra, when used)

    if not kept.state_path().exists():
        print("nothing running: no local services are recorded")
        return 0
    stopped = kept.stop_kept()
    if stopped:
        print(f"stopped {len(stopped)} local service processes")
    else:
        print("nothing running: the recorded local services had already ended; forgot them")
    return 0
