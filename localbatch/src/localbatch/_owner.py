"""Whether the ``localbatch`` import package is this project's alone.

The public package index has an unrelated project named ``localbatch`` (an
AWS Batch emulator) whose wheel installs an import package of the same name.
Installed next to ``batchwords-localbatch``, the two write into one folder; a
server mixing the two would fail in ways that name neither. So the commands
check first, by the installed distributions' file lists.
"""

from __future__ import annotations

import re
from importlib import metadata

#: This emulator's distribution name (the import package and the command stay ``localbatch``).
DISTRIBUTION = "batchwords-localbatch"
PACKAGE = "localbatch"


def foreign_owners() -> list[str]:
    """Other installed distributions that put files into the ``localbatch`` import package."""
    owners = metadata.packages_distributions().get(PACKAGE, [])
    return sorted({name for name in owners if re.sub(r"[-_.]+", "-", name).lower() != DISTRIBUTION})


def ownership_problem() -> str | None:
    """A line naming the other distribution and the fix, or None when the package is ours alone."""
    others = foreign_owners()
    if not others:
        return None
    return (
        f"the import package {PACKAGE} here also comes from {', '.join(others)}, an unrelated project "
        f"with the same import name, not only from {DISTRIBUTION}: run `pip uninstall {' '.join(others)}`, "
        f"then `pip install --force-reinstall ./localbatch` from the batchwords checkout"
    )
