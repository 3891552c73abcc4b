"""``python -m batchwords.cli``."""

from __future__ import annotations

from ._main import entrypoint

if __name__ == "__main__":
    entrypoint()
