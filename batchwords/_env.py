"""Every environment variable batchwords reads, in one place."""

from __future__ import annotations

#: Shared Key credentials (the emulators); all four or none.
BATCH_ACCOUNT = "BATCHWORDS_BATCH_ACCOUNT"
BATCH_KEY = "BATCHWORDS_BATCH_KEY"
STORAGE_ACCOUNT = "BATCHWORDS_STORAGE_ACCOUNT"
STORAGE_KEY = "BATCHWORDS_STORAGE_KEY"
SHARED_KEYS = (BATCH_ACCOUNT, BATCH_KEY, STORAGE_ACCOUNT, STORAGE_KEY)
#: browser or device-code: an interactive sign-in instead of DefaultAzureCredential.
SIGN_IN = "BATCHWORDS_SIGN_IN"
#: Where the CLI points when no flag says.
BATCH_ENDPOINT = "BATCHWORDS_BATCH_ENDPOINT"
STORAGE_ENDPOINT = "BATCHWORDS_STORAGE_ENDPOINT"
#: Folders of the user config file and of the kept offline services' state.
CONFIG_DIR = "BATCHWORDS_CONFIG_DIR"
STATE_DIR = "BATCHWORDS_STATE_DIR"
#: The offline run: the azurite-blob executable, and the Python the local nodes install nodetask with.
AZURITE = "BATCHWORDS_AZURITE"
NODE_PYTHON = "BATCHWORDS_NODE_PYTHON"
#: `batchwords preflight`: Azure Resource Manager and the retail prices API (another cloud, or a stand-in).
ARM_ENDPOINT = "BATCHWORDS_ARM_ENDPOINT"
PRICES_ENDPOINT = "BATCHWORDS_PRICES_ENDPOINT"
#: On a node: the program that fetches a nodetask release's wheels (see ``_node_fetch``).
NODE_FETCH = "BATCHWORDS_FETCH"
