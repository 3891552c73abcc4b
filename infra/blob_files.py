"""The ``BlobFiles`` dynamic resource: local files kept in sync with blobs under one prefix.

It replaces one azure-native ``storage.Blob`` per file, which (a) uploads with
the account key (ListKeys), so it fails where shared keys are off, and (b)
puts one resource per input in the state. This is one resource however many
files, a thin adapter over ``batchwords.Storage.sync_files``: Entra ID or
Shared Key from the environment, MD5 skip, bounded concurrency; a file
removed from the set is deleted from Storage, and blobs others put in the
container are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.runtime import rpc

import batchwords
from batchwords import deploy
from infra import dynamic

#: Changing any of these moves the files elsewhere: a new resource.
REPLACE_FIELDS = ("storage_endpoint", "container", "prefix")
OUTPUT_FIELDS = ("blobs", "urls")


@dataclass(frozen=True)
class BlobFilesInputs:
    storage_endpoint: str
    container: str
    prefix: str
    #: blob name -> (local path, base64 MD5 as the program read it)
    files: dict[str, tuple[Path, str]]
    #: The object id the program granted the Storage data role to (None: not checked).
    principal_id: str | None = None

    @classmethod
    def parse(cls, props: Mapping[str, Any]) -> BlobFilesInputs:
        missing = [name for name in ("storage_endpoint", "container", "files") if props.get(name) is None]
        if missing:
            raise batchwords.ConfigError(
                f"BlobFiles needs {', '.join(missing)}", [(n, "is required") for n in missing]
            )
        files = {
            str(name): (Path(str(entry["path"])), str(entry["md5"]))
            for name, entry in dict(props["files"]).items()
        }
        return cls(
            str(props["storage_endpoint"]),
            str(props["container"]),
            str(props.get("prefix") or ""),
            files,
            dynamic.principal_id(props),
        )

    def storage(self) -> batchwords.Storage:
        """A client for this call only: nothing is kept on the (pickled) provider. Entra ID
        credentials must act as the principal that got the role, else this fails at once."""
        credentials = batchwords.resolve_credentials()
        deploy.require_principal(credentials, self.principal_id)
        return batchwords.Storage(self.storage_endpoint, credentials.storage)

    def sync(self, previous: BlobFilesInputs | None = None) -> dict[str, Any]:
        """Upload the files as the program read them, or nothing: a file gone or changed since is refused."""
        missing = sorted(str(path) for path, _ in self.files.values() if not path.is_file())
        if missing:
            raise batchwords.ConfigError(
                f"files to upload are gone: {', '.join(missing)}; run `pulumi up` again"
            )
        stale = sorted(name for name, (path, md5) in self.files.items() if deploy.md5_base64(path) != md5)
        if stale:
            raise batchwords.ConfigError(
                f"files changed since the program read them: {', '.join(stale)}; run `pulumi up` again"
            )
        results, _ = self.storage().sync_files(
            self.container,
            {name: path for name, (path, _) in self.files.items()},
            previous=previous.files if previous is not None else (),
        )
        return _outputs([blob for blob, _ in results])


def _outputs(blobs: list[batchwords.BlobInfo]) -> dict[str, Any]:
    return {"blobs": {blob.name: blob.md5 for blob in blobs}, "urls": {blob.name: blob.url for blob in blobs}}


class _BlobFilesProvider(pulumi.dynamic.ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        if any(value == rpc.UNKNOWN for value in news.values()):
            return pulumi.dynamic.CheckResult(news, [])  # a preview: create checks again, known
        try:
            inputs = BlobFilesInputs.parse(news)
        except batchwords.ConfigError as exc:
            return pulumi.dynamic.CheckResult(
                news, [pulumi.dynamic.CheckFailure(n, f"{n} {r}") for n, r in exc.problems]
            )
        except (TypeError, KeyError, ValueError) as exc:
            return pulumi.dynamic.CheckResult(news, [pulumi.dynamic.CheckFailure("files", f"files {exc}")])
        outside = sorted(name for name in inputs.files if not name.startswith(inputs.prefix))
        failures = [
            pulumi.dynamic.CheckFailure("files", f"files {name!r} is outside prefix {inputs.prefix!r}")
            for name in outside
        ]
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = [name for name in REPLACE_FIELDS if olds.get(name) != news.get(name)]
        # A new principal (another deployer) updates in place, so that later verbs check it.
        updates = [name for name in ("files", "principal_id") if olds.get(name) != news.get(name)]
        return pulumi.dynamic.DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            stables=[name for name in REPLACE_FIELDS if name not in replaces],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        inputs = BlobFilesInputs.parse(props)
        return pulumi.dynamic.CreateResult(
            id_=f"{inputs.container}/{inputs.prefix}", outs={**props, **inputs.sync()}
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        outs = BlobFilesInputs.parse(news).sync(previous=BlobFilesInputs.parse(olds))
        return pulumi.dynamic.UpdateResult(outs={**news, **outs})

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        inputs = BlobFilesInputs.parse(props)
        blobs = [
            blob
            for blob in inputs.storage().list_blobs(inputs.container, inputs.prefix)
            if blob.name in inputs.files
        ]
        return pulumi.dynamic.ReadResult(id_=id_, outs={**props, **_outputs(blobs)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        inputs = BlobFilesInputs.parse(props)
        storage = inputs.storage()
        if dynamic.gone(inputs.storage_endpoint, "Storage"):
            return
        for name in inputs.files:  # only what this resource put there
            storage.delete_blob(inputs.container, name)


class BlobFiles(pulumi.dynamic.Resource, module="batchwords", name="BlobFiles"):
    """Local files as blobs under one prefix of a container, one resource for all of them."""

    blobs: pulumi.Output[dict[str, str]]
    urls: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        *,
        storage_endpoint: pulumi.Input[str],
        container: pulumi.Input[str],
        files: Mapping[str, Path],
        prefix: str = "",
        principal_id: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        #: blob name -> base64 MD5, known while the program runs (also in a preview).
        self.local_md5 = {blob: deploy.md5_base64(path) for blob, path in files.items()}
        entries = {
            blob: {"path": str(path.resolve()), "md5": self.local_md5[blob]} for blob, path in files.items()
        }
        props: dict[str, Any] = {
            "storage_endpoint": storage_endpoint,
            "container": container,
            "prefix": prefix,
            "files": entries,
            # Who the program granted the Storage role to: the provider's credentials must be it.
            "principal_id": principal_id,
            **dict.fromkeys(OUTPUT_FIELDS),
        }
        super().__init__(_BlobFilesProvider(), name, props, dynamic.keep_state(opts))
