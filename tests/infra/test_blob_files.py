"""The BlobFiles dynamic provider's verbs, called directly against Azurite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

import batchwords
from batchwords import deploy
from infra.blob_files import _BlobFilesProvider
from tests.support.pulumi_mocks import outs_of

pytestmark = pytest.mark.azurite


def props_for(emulators, container: str, files: dict[str, Path], prefix: str = "") -> dict[str, Any]:
    return {
        "storage_endpoint": emulators.storage.account_url,
        "container": container,
        "prefix": prefix,
        "files": {name: {"path": str(path), "md5": deploy.md5_base64(path)} for name, path in files.items()},
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "texts" / "nested").mkdir(parents=True)
    (tmp_path / "texts" / "a.txt").write_text("alpha", encoding="utf-8")
    (tmp_path / "texts" / "nested" / "b.txt").write_text("beta", encoding="utf-8")
    return tmp_path / "texts"


def test_create_update_read_delete(emulators, env, folder):
    container = f"files-{emulators.suffix}"
    emulators.storage.ensure_container(container)
    emulators.storage.upload_files(container, {"other.txt": folder / "a.txt"})  # not this resource's
    provider = _BlobFilesProvider()
    files = {"a.txt": folder / "a.txt", "nested/b.txt": folder / "nested" / "b.txt"}
    props = props_for(emulators, container, files, prefix="")
    assert provider.check({}, props).failures == []
    created = provider.create(props)
    outs = outs_of(created)
    assert outs["blobs"] == {name: deploy.md5_base64(path) for name, path in files.items()}
    assert outs["urls"]["a.txt"] == f"{emulators.storage.account_url}/{container}/a.txt"
    for value in (emulators.localbatch.key, "sig="):
        assert value not in str(outs)

    # b.txt changes, a.txt goes, c.txt comes: exactly that happens in Storage.
    before = {b.name: b for b in emulators.storage.list_blobs(container)}
    (folder / "nested" / "b.txt").write_text("beta, changed", encoding="utf-8")
    (folder / "c.txt").write_text("gamma", encoding="utf-8")
    news = props_for(
        emulators, container, {"nested/b.txt": folder / "nested" / "b.txt", "c.txt": folder / "c.txt"}
    )
    assert provider.diff(str(created.id), props, news).replaces == []
    updated = outs_of(provider.update(str(created.id), outs, news))
    after = {b.name: b for b in emulators.storage.list_blobs(container)}
    assert sorted(after) == ["c.txt", "nested/b.txt", "other.txt"]
    assert after["nested/b.txt"].md5 != before["nested/b.txt"].md5
    assert updated["blobs"] == {name: entry["md5"] for name, entry in news["files"].items()}
    assert set(outs_of(provider.read(str(created.id), updated))["blobs"]) == {"c.txt", "nested/b.txt"}

    provider.delete(str(created.id), updated)
    assert [b.name for b in emulators.storage.list_blobs(container)] == ["other.txt"]
    provider.delete(str(created.id), updated)  # gone already is fine


def test_a_file_changed_since_the_program_read_it_is_refused(emulators, env, folder):
    container = f"files-{emulators.suffix}"
    emulators.storage.ensure_container(container)
    props = props_for(emulators, container, {"a.txt": folder / "a.txt"})
    (folder / "a.txt").write_text("changed after the program ran", encoding="utf-8")
    with pytest.raises(batchwords.ConfigError, match=r"changed since the program read them: a\.txt"):
        _BlobFilesProvider().create(props)


def test_names_outside_the_prefix_fail_the_check(emulators, env, folder):
    props = props_for(emulators, "application", {"elsewhere/a.txt": folder / "a.txt"}, prefix="nodetask/")
    (failure,) = _BlobFilesProvider().check({}, props).failures
    assert failure.property == "files"
    assert "outside prefix 'nodetask/'" in failure.reason


def test_the_serialized_provider_holds_no_secret(env):
    serialized = serialize_provider(_BlobFilesProvider())
    for name, value in env.items():
        if name.endswith("_KEY"):
            assert value not in serialized
