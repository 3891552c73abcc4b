"""The sample texts and the 2016 tutorial's word rule, written the tutorial's way, as the reference."""

from __future__ import annotations

import string
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def tutorial_counts(text: str, *, ignore_case: bool = False) -> Counter[str]:
    """Read everything, split, strip punctuation, count; drop empty tokens."""
    words = [word.strip(string.punctuation) for word in text.split()]
    if ignore_case:
        words = [word.lower() for word in words]
    return Counter(word for word in words if word)


def all_words(folder: Path, exclude: set[str] | frozenset[str] = frozenset()) -> Counter[str]:
    """The tutorial's counts of every text in ``folder`` (but the names in ``exclude``), summed."""
    counts: Counter[str] = Counter()
    for path in sorted(p for p in folder.glob("*.txt") if p.name not in exclude):
        counts.update(tutorial_counts(path.read_text(encoding="utf-8-sig")))
    return counts


def ranked(counts: Counter[str], n: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def reference_counts(data: bytes, *, errors: str = "strict", ignore_case: bool = False) -> Counter[str]:
    """The tutorial's counts of a file's bytes: decoded as Python does (``errors`` for bad
    bytes), a leading byte-order mark dropped."""
    text = data.decode("utf-8", errors).removeprefix("\ufeff")
    return tutorial_counts(text, ignore_case=ignore_case)


def first_bad_byte(data: bytes) -> int | None:
    """The file offset Python's UTF-8 decoder stops at, or None for valid UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None
