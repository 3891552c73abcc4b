"""How nodetask gets onto a node: the fetch that waits out role propagation, the install
that runs once per release and node, and each job's preparation task installing its own."""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import BlobSasPermissions, generate_blob_sas

from batchwords import NodetaskRelease, PoolError, wheels_digest
from batchwords._pool import _fetch_program
from tests.support.emulators import Emulators, upload_samples

pytestmark = pytest.mark.azurite


def fetch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The fetch exactly as the install script runs it: its code inlined with ``-c``."""
    return subprocess.run(
        [sys.executable, "-c", _fetch_program(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def blob(blob_service):
    container = blob_service.get_container_client(f"fetch-{uuid.uuid4().hex[:12]}")
    container.create_container()
    container.upload_blob("nodetask-1.0-py3-none-any.whl", b"wheel bytes")
    return container.get_blob_client("nodetask-1.0-py3-none-any.whl")


class TestFetch:
    def test_waits_until_access_is_granted_and_says_what_it_waits_for(self, azurite, blob, tmp_path):
        # A SAS that starts in 3 s: Storage answers 403 until then, as it does while a new
        # role assignment propagates.
        start = datetime.now(UTC) + timedelta(seconds=3)
        sas = generate_blob_sas(
            azurite.account,
            blob.container_name,
            blob.blob_name,
            account_key=azurite.key,
            permission=BlobSasPermissions(read=True),
            start=start,
            expiry=start + timedelta(hours=1),
        )
        target = tmp_path / "w.whl"
        done = fetch("--delay", "0.5", "--wait", "60", str(target), f"{blob.url}?{sas}")
        assert done.returncode == 0, done.stderr
        assert target.read_bytes() == b"wheel bytes"
        assert not Path(f"{target}.part").exists()
        assert "waiting for " + blob.url in done.stderr
        assert (
            "HTTP 403 AuthenticationFailed" in done.stderr or "HTTP 403 AuthorizationFailure" in done.stderr
        )
        assert "role assignments take up to 10 minutes" in done.stderr
        assert "sig=" not in done.stderr + done.stdout  # the SAS is never printed

    def test_gives_up_after_its_wait_with_the_reason(self, blob, tmp_path):
        missing = blob.url.replace("nodetask-1.0", "nodetask-2.0")
        started = time.monotonic()
        done = fetch("--delay", "0.2", "--wait", "1.5", str(tmp_path / "w.whl"), missing)
        assert done.returncode != 0
        assert time.monotonic() - started < 20
        assert f"gave up fetching {missing} after 2 s: HTTP 403" in done.stderr  # no read right
        assert "Storage Blob Data Reader" in done.stderr
        assert not (tmp_path / "w.whl").exists()

    def test_a_refusal_that_cannot_turn_good_is_not_retried(self, blob, tmp_path):
        bad_name = blob.url.replace(blob.container_name, "Bad_Name")  # 400 InvalidResourceName
        done = fetch("--wait", "60", str(tmp_path / "w.whl"), bad_name)
        assert done.returncode != 0
        assert "HTTP 400 InvalidResourceName (not retried)" in done.stderr
        assert "waiting for" not in done.stderr

    def test_with_the_pool_identity_a_token_from_the_metadata_service(self, tmp_path):
        """IMDS cannot run here: a local stand-in serves tokens, and a Storage stand-in
        refuses the first two reads as Storage does while the role propagates."""
        seen: list[tuple[str, dict[str, list[str]], str | None]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen.append((parts.path, parse_qs(parts.query), self.headers.get("Authorization")))
                if parts.path == "/token":
                    body = json.dumps({"access_token": "T0KEN"}).encode()
                    status = 200 if self.headers.get("Metadata") == "true" else 400
                elif sum(1 for path, _, _ in seen if path == "/blob") <= 2:
                    self.send_response(403)
                    self.send_header("x-ms-error-code", "AuthorizationPermissionMismatch")
                    self.end_headers()
                    return
                else:
                    status, body = 200, b"wheel via identity"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{server.server_port}"
            identity = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/identities/i"
            target = tmp_path / "w.whl"
            done = fetch(
                "--identity",
                identity,
                "--imds",
                f"{base}/token",
                "--delay",
                "0.1",
                str(target),
                f"{base}/blob",
            )
        finally:
            server.shutdown()
        assert done.returncode == 0, done.stderr
        assert target.read_bytes() == b"wheel via identity"
        assert done.stderr.count("HTTP 403 AuthorizationPermissionMismatch") == 2
        tokens = [query for path, query, _ in seen if path == "/token"]
        assert tokens[0]["msi_res_id"] == [identity]
        assert tokens[0]["resource"] == ["https://storage.azure.com/"]
        assert {auth for path, _, auth in seen if path == "/blob"} == {"Bearer T0KEN"}


def release_for(emulators: Emulators, digest: str) -> NodetaskRelease:
    assert emulators.release is not None
    return dataclasses.replace(emulators.release, digest=digest)


def run_install(release: NodetaskRelease, shared: Path, work: Path) -> subprocess.Popen[str]:
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        ["/bin/sh", "-c", release.install_script()],
        cwd=work,
        env={**os.environ, **release.environment(), "AZ_BATCH_NODE_SHARED_DIR": str(shared)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class TestInstall:
    def test_the_digest_names_the_content(self, tmp_path):
        wheel = tmp_path / "nodetask-1.0-py3-none-any.whl"
        wheel.write_bytes(b"one")
        first = wheels_digest([wheel])
        assert first == wheels_digest([wheel])
        wheel.write_bytes(b"two")
        assert wheels_digest([wheel]) != first

    def test_concurrent_installs_of_a_release_install_it_once(self, emulators, pool, tmp_path):
        release = release_for(emulators, "feedfacefeedface")
        shared = tmp_path / "shared"
        runs = [run_install(release, shared, tmp_path / f"task{n}") for n in range(2)]
        outputs = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        said = "".join(out for out, _ in outputs)
        assert said.count("installed nodetask feedfacefeedface") == 1
        assert said.count("nodetask feedfacefeedface is installed") == 1
        venv = shared / "batchwords" / "nodetask-feedfacefeedface"
        assert (venv / ".installed").exists()
        probe = subprocess.run([venv / "bin" / "nodetask", "--help"], capture_output=True, check=False)
        assert probe.returncode == 0

    def test_a_jobs_tasks_run_the_jobs_release_not_the_pools(self, emulators, pool):
        """The pool's nodes booted with one release; the job brings another, which its
        preparation task installs: without it the tasks would not find their nodetask."""
        spec = emulators.spec(nodetask=release_for(emulators, "0ddba11c0ddba11c"))
        inputs = upload_samples(emulators, spec)
        job_set = emulators.job_set(spec)
        job_set.submit(inputs)
        counts, done = job_set.wait(timeout=180, poll_interval=0.2)
        assert done
        assert (counts.failed, counts.succeeded) == (0, len(inputs))
        (status,) = emulators.batch.preparation_status(spec.job_set)
        assert status.job_preparation_task_execution_info.result == "success"
        node = Path(emulators.localbatch.service.node_dir(pool, status.node_id))
        releases = sorted(p.name for p in (node / "shared" / "batchwords").glob("nodetask-*") if p.is_dir())
        assert releases == sorted([f"nodetask-{emulators.release.digest}", "nodetask-0ddba11c0ddba11c"])

    def test_a_release_that_cannot_be_fetched_is_reported_with_its_reason(self, emulators, pool):
        assert emulators.release is not None
        (name, url), *_ = emulators.release.wheels
        broken = dataclasses.replace(
            emulators.release,
            digest="badbadbadbadbad0",
            wheels=((name, url.replace(name, "nodetask-0.0-py3-none-any.whl")),),
            fetch_wait=1.0,
        )
        spec = emulators.spec(nodetask=broken)
        job_set = emulators.job_set(spec)
        job_set.submit(upload_samples(emulators, spec))
        # The node takes none of the job's tasks: the wait ends early, saying why.
        with pytest.raises(PoolError, match="preparation task that installs nodetask failed on every node"):
            job_set.wait(timeout=60, poll_interval=0.2)
        (failure,) = emulators.batch.preparation_failures(spec.job_set)
        assert failure.startswith("node ")
        assert "exit code 1" in failure
        assert "gave up fetching" in failure
        assert "nodetask-0.0-py3-none-any.whl" in failure
