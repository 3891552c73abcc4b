"""What both engines share: the punctuation the word rule strips, and how they report progress."""

from __future__ import annotations

import string
from collections.abc import Callable

#: Stripped from both ends of every token; a token that is all punctuation is no word.
PUNCTUATION = string.punctuation

#: Called with (bytes counted, bytes in all) as counting goes on.
ProgressCallback = Callable[[int, int], None]
