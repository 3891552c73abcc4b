"""Accounts deleted outside Pulumi: endpoints whose names never resolve (the reserved ``.invalid``
top-level domain) and Shared Key credentials for them (nothing is reached, so no token is needed)."""

from __future__ import annotations

BATCH = "https://bwbagone.westeurope.batch.azure.com.invalid"
STORAGE = "https://bwstgone.blob.core.windows.net.invalid/"
#: The provider's Shared Key variables for those accounts (the key is any base64).
SHARED_KEY = {
    "BATCHWORDS_BATCH_ACCOUNT": "bwbagone",
    "BATCHWORDS_BATCH_KEY": "a2V5",
    "BATCHWORDS_STORAGE_ACCOUNT": "bwstgone",
    "BATCHWORDS_STORAGE_KEY": "a2V5",
}
