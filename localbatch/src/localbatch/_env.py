"""The environment variables localbatch reads.

Secrets come from the environment: a command line is visible to every local user (ps).
"""

from __future__ import annotations

KEY_ENV = "LOCALBATCH_KEY"
AUTO_STORAGE_KEY_ENV = "LOCALBATCH_AUTO_STORAGE_KEY"
#: A folder every node of every pool takes as its AZ_BATCH_NODE_SHARED_DIR (see ``LocalBatch``).
SHARED_DIR_ENV = "LOCALBATCH_SHARED_DIR"
