"""The 2016 tutorial's word rule, written the tutorial's way, as the reference."""

from __future__ import annotations

import string
from collections import Counter


def tutorial_counts(text: str, *, ignore_case: bool = False) -> Counter[str]:
    """Read everything, split, strip punctuation, count; drop empty tokens."""
    words = [word.strip(string.punctuation) for word in text.split()]
    if ignore_case:
        words = [word.lower() for word in words]
    return Counter(word for word in words if word)
