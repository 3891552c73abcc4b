"""`batchwords login`, `whoami`, `config` and `local`: sign-in, settings and the kept services."""

from __future__ import annotations

import argparse
from typing import Any

from .._credentials import SIGN_IN_MODES, resolve_credentials, sign_in
from ._settings import KEYS, config_dir, config_path, load_settings, set_setting
from ._target import offline


def add_parsers(commands: Any) -> None:
    login_parser = commands.add_parser("login", help="sign in interactively; the session is cached")
    login_parser.add_argument("--mode", choices=SIGN_IN_MODES, default="browser")
    login_parser.set_defaults(handler=login)
    commands.add_parser("whoami", help="which credentials batchwords would use").set_defaults(handler=whoami)
    local = commands.add_parser("local", help="the local services a `run --keep` left up")
    local_actions = local.add_subparsers(dest="action", required=True)
    local_actions.add_parser("show", help="their endpoints").set_defaults(handler=local_show)
    local_actions.add_parser("stop", help="stop them and forget them").set_defaults(handler=local_stop)
    config = commands.add_parser("config", help="show or set your defaults")
    config_actions = config.add_subparsers(dest="action", required=True)
    config_actions.add_parser("show", help="print the defaults and the file they live in").set_defaults(
        handler=config_show
    )
    setter = config_actions.add_parser("set", help="set one default")
    setter.add_argument("key", choices=sorted(KEYS))
    setter.add_argument("value")
    setter.set_defaults(handler=config_set)


def login(args: argparse.Namespace) -> int:
    who = sign_in(args.mode, config_dir())
    print(f"signed in as {who}; later commands reuse this session (BATCHWORDS_SIGN_IN={args.mode})")
    return 0


def whoami(_: argparse.Namespace) -> int:
    print(resolve_credentials(state_dir=config_dir()).source)
    return 0


def config_set(args: argparse.Namespace) -> int:
    path = set_setting(args.key, args.value)
    print(f"{args.key} = {args.value} (saved in {path})")
    return 0


def config_show(_: argparse.Namespace) -> int:
    settings = load_settings()
    print(f"# {config_path()}")
    for key, text in KEYS.items():
        print(f"{key} = {settings.get(key, '')}    # {text}")
    return 0


def local_show(_: argparse.Namespace) -> int:
    kept = offline()
    services = kept.kept_services()
    print(f"localbatch {services.batch_endpoint}\nAzurite {services.storage_endpoint}")
    print(f"(state in {kept.state_path()})")
    return 0


def local_stop(_: argparse.Namespace) -> int:
    stopped = offline().stop_kept()
    print(f"stopped {len(stopped)} local service processes")
    return 0
