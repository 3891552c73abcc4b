from __future__ import annotations

# Azurite + localbatch + batchwords fixtures shared by the batchwords and infra tests.
pytest_plugins = ["tests.support.emulators"]
