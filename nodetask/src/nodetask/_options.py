"""Value types of the command's options, shared by ``nodetask`` and ``nodetask merge``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ._contract import check_partitions


def positive(name: str, minimum: int) -> Callable[[str], int]:
    """A whole number of at least ``minimum``, named ``name`` in the usage error."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, not {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum}, not {number}")
        return number

    return parse


def partition_count(value: str) -> int:
    """A partition count: a power of two from 1 to ``MAX_PARTITIONS``."""
    try:
        return check_partitions(int(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
