"""The environment variables localbatch reads.

Secrets come from the environment: a command line is visible to every local user (ps).
"""

from __future__ import annotations

KEY_ENV = "LOCALBATCH_KEY"
AUTO_STORAGE_KEY_ENV = "LOCALBATCH_AUTO_STORAGE_KEY"
