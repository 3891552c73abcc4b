"""How nodetask gets onto a node: the fetch that waits out role propagation and checks every
file's sha256, the install that runs once per release and node from the release's files only
(by hash, no package index), and each job's preparation task installing its own."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import BlobClient, BlobSasPermissions, generate_blob_sas

from batchwords import PoolError
from batchwords._env import NODE_FETCH
from batchwords._pool import (
    FETCH_BOOTSTRAP,
    _fetch_program,
    nodetask_start_task,
    preparation_task,
    system_script,
)
from batchwords.deploy import NodetaskRelease, wheels_digest
from batchwords.offline import Azurite
from tests.support.emulators import Emulators, upload_samples

pytestmark = pytest.mark.azurite


WHEEL_BYTES = b"wheel bytes"
WHEEL_SHA = hashlib.sha256(WHEEL_BYTES).hexdigest()


def fetch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The fetch exactly as the install script runs it: decoded from its environment value."""
    release = NodetaskRelease(digest="0" * 16, files=(("nodetask-lock.txt", "https://x/l", "0" * 64),))
    return subprocess.run(
        [sys.executable, "-c", FETCH_BOOTSTRAP, *args],
        env={**os.environ, **release.environment()},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def blob(blob_service):
    container = blob_service.get_container_client(f"fetch-{uuid.uuid4().hex[:12]}")
    container.create_container()
    container.upload_blob("nodetask-1.0-py3-none-any.whl", WHEEL_BYTES)
    return container.get_blob_client("nodetask-1.0-py3-none-any.whl")


def read_sas(azurite: Azurite, blob: BlobClient, *, start: datetime) -> str:
    """A read SAS for ``blob``, valid from ``start`` for an hour."""
    return generate_blob_sas(
        azurite.account,
        blob.container_name,
        blob.blob_name,
        account_key=azurite.key,
        permission=BlobSasPermissions(read=True),
        start=start,
        expiry=start + timedelta(hours=1),
    )


class TestFetch:
    def test_waits_until_access_is_granted_and_says_what_it_waits_for(self, azurite, blob, tmp_path):
        # A SAS that starts in 3 s: Storage answers 403 until then, as it does while a new
        # role assignment propagates.
        sas = read_sas(azurite, blob, start=datetime.now(UTC) + timedelta(seconds=3))
        target = tmp_path / "w.whl"
        done = fetch("--delay", "0.5", "--wait", "60", str(target), f"{blob.url}?{sas}", WHEEL_SHA)
        assert done.returncode == 0, done.stderr
        assert target.read_bytes() == WHEEL_BYTES
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
        done = fetch("--delay", "0.2", "--wait", "1.5", str(tmp_path / "w.whl"), missing, WHEEL_SHA)
        assert done.returncode != 0
        assert time.monotonic() - started < 20
        assert f"gave up fetching {missing} after 2 s: HTTP 403" in done.stderr  # no read right
        assert "Storage Blob Data Reader" in done.stderr
        assert not (tmp_path / "w.whl").exists()

    def test_a_refusal_that_cannot_turn_good_is_not_retried(self, blob, tmp_path):
        bad_name = blob.url.replace(blob.container_name, "Bad_Name")  # 400 InvalidResourceName
        done = fetch("--wait", "60", str(tmp_path / "w.whl"), bad_name, WHEEL_SHA)
        assert done.returncode != 0
        assert "HTTP 400 InvalidResourceName (not retried)" in done.stderr
        assert "waiting for" not in done.stderr

    def test_bytes_other_than_the_release_records_are_refused_and_not_kept(self, azurite, blob, tmp_path):
        """A changed blob (a tampered wheel) never takes its name: pip never sees it."""
        target = tmp_path / "w.whl"
        recorded = hashlib.sha256(b"the wheel that was built").hexdigest()
        sas = read_sas(azurite, blob, start=datetime.now(UTC) - timedelta(minutes=5))
        done = fetch("--wait", "60", str(target), f"{blob.url}?{sas}", recorded)
        assert done.returncode != 0
        assert f"refused {blob.url}: its sha256 is {WHEEL_SHA}, the release records {recorded}" in done.stderr
        assert "not retried" in done.stderr
        assert "waiting for" not in done.stderr
        assert list(tmp_path.iterdir()) == []  # neither the file nor its .part

    def test_it_travels_as_one_line_of_base64_and_runs_decoded(self):
        """Batch documents nothing about newlines in environment values: the value is one ASCII line."""
        release = NodetaskRelease(digest="0" * 16, files=(("nodetask-lock.txt", "https://x/l", "0" * 64),))
        for task in (
            nodetask_start_task(release, elevated=False).to_batch_model(),
            preparation_task(release),
        ):
            (setting,) = task.environment_settings or []
            assert setting.name == NODE_FETCH
            assert setting.value is not None
            assert setting.value.isascii()
            assert "\n" not in setting.value
            assert base64.b64decode(setting.value).decode() == _fetch_program()
            assert "b64decode(os.environ" in task.command_line
            assert len(task.command_line) < 2000

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
                hashlib.sha256(b"wheel via identity").hexdigest(),
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


def run_install(
    release: NodetaskRelease, shared: Path, work: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        ["/bin/sh", "-c", release.install_script()],
        cwd=work,
        env={**os.environ, **(env or {}), **release.environment(), "AZ_BATCH_NODE_SHARED_DIR": str(shared)},
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
        (node,) = emulators.batch.nodes(pool)
        shared = emulators.localbatch.service.node_shared_dir(pool, node.id) / "batchwords"
        assert not (shared / "nodetask-0ddba11c0ddba11c").exists()
        spec = emulators.spec(nodetask=release_for(emulators, "0ddba11c0ddba11c"))
        inputs = upload_samples(emulators, spec)
        job_set = emulators.job_set(spec)
        job_set.submit(inputs)
        counts, done = job_set.wait(timeout=180, poll_interval=0.2)
        assert done
        assert (counts.failed, counts.map.completed) == (0, len(inputs))
        (status,) = emulators.batch.preparation_status(spec.job_set)
        assert status.job_preparation_task_execution_info.result == "success"
        assert status.node_id == node.id
        # Both installed side by side (the node's shared folder may hold other tests' releases too).
        for digest in (emulators.release.digest, "0ddba11c0ddba11c"):
            assert (shared / f"nodetask-{digest}" / ".installed").exists()

    def test_a_release_that_cannot_be_fetched_is_reported_with_its_reason(self, emulators, pool):
        assert emulators.release is not None
        (name, url, sha256), *rest = emulators.release.files
        broken = dataclasses.replace(
            emulators.release,
            digest="badbadbadbadbad0",
            files=((name, url.replace(name, "nodetask-0.0-py3-none-any.whl"), sha256), *rest),
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


def fake_wheel(folder: Path, name: str, version: str) -> Path:
    """A wheel of distribution ``name`` whose ``nodetask`` package says it was hijacked."""
    stem = name.replace("-", "_")
    wheel = folder / f"{stem}-{version}-py3-none-any.whl"
    info = f"{stem}-{version}.dist-info"
    members = {
        "nodetask/__init__.py": "HIJACKED = True\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/RECORD": "",
    }
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return wheel


def with_files(emulators: Emulators, blob_service, digest: str, extra: list[Path]) -> NodetaskRelease:
    """The pool's release plus ``extra`` files, uploaded next to its wheels, each with its true sha256."""
    assert emulators.release is not None
    container = blob_service.get_container_client(f"app-{emulators.suffix}")
    files = list(emulators.release.files)
    for path in extra:
        container.upload_blob(path.name, path.read_bytes(), overwrite=True)
        url = container.get_blob_client(path.name).url
        files.append((path.name, url, hashlib.sha256(path.read_bytes()).hexdigest()))
    return dataclasses.replace(emulators.release, digest=digest, files=tuple(files))


def installed(venv: Path) -> dict[str, str]:
    listing = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {item["name"]: item["version"] for item in json.loads(listing.stdout)}


class TestOnlyTheReleaseInstalls:
    """Point 2 of issue 21: nobody can get code onto a node by publishing a higher version."""

    def test_the_script_installs_by_hash_from_the_release_files_only(self):
        release = NodetaskRelease(digest="0" * 16, files=(("nodetask-lock.txt", "https://x/l", "0" * 64),))
        script = release.install_script()
        (pip,) = [part for part in script.split("; ") if " -m pip install " in part]
        words = shlex.split(pip)[shlex.split(pip).index("install") + 1 :]
        assert {"--no-index", "--isolated", "--require-hashes", "--only-binary=:all:"} <= set(words)
        assert words[words.index("-r") + 1] == "wheels/nodetask-lock.txt"
        valued = {"--find-links", "-r"}
        named = [w for i, w in enumerate(words) if not w.startswith("-") and words[i - 1] not in valued]
        assert named == []  # no requirement by name: nothing for an index to answer

    @pytest.mark.parametrize(
        "files",
        [
            (("../evil.whl", "https://x/e", "0" * 64), ("nodetask-lock.txt", "https://x/l", "0" * 64)),
            (("a-1.0-py3-none-any.whl", "https://x/a", "0" * 64),),  # no lock
            (("nodetask-lock.txt", "https://x/l", "ABC"),),
        ],
    )
    def test_a_release_is_plain_names_with_hashes_and_a_lock(self, files):
        with pytest.raises(ValueError, match="a release is distinct plain file names"):
            NodetaskRelease(digest="0" * 16, files=files)

    def test_a_higher_version_in_the_wheels_or_on_an_index_is_not_installed(
        self, emulators, pool, blob_service, tmp_path
    ):
        """What a squatter would publish: a higher batchwords-nodetask and the old bare name
        `nodetask`. Both sit in the node's wheels folder and in an index pip is pointed at
        through its environment; the node installs the locked 0.1.0, and nothing else."""
        fakes = tmp_path / "fakes"
        fakes.mkdir()
        extra = [fake_wheel(fakes, "batchwords-nodetask", "0.1.1"), fake_wheel(fakes, "nodetask", "9.9.9")]
        release = with_files(emulators, blob_service, "5ca1ab1e5ca1ab1e", extra)
        shared = tmp_path / "shared"
        env = {"PIP_FIND_LINKS": str(fakes), "PIP_INDEX_URL": fakes.as_uri(), "PIP_NO_INDEX": "0"}
        run = run_install(release, shared, tmp_path / "task", env)
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, out + err
        venv = shared / "batchwords" / "nodetask-5ca1ab1e5ca1ab1e"
        packages = installed(venv)
        assert packages["batchwords-nodetask"] == "0.1.0"
        assert "nodetask" not in packages
        assert all("HIJACKED" not in init.read_text() for init in venv.rglob("nodetask/__init__.py"))

    def test_a_tampered_wheel_is_refused_before_pip_runs(self, emulators, pool, blob_service, tmp_path):
        """The nodetask wheel's blob is replaced after the release recorded its sha256."""
        assert emulators.release is not None
        (name, url, _) = next(file for file in emulators.release.files if file[0].startswith("batchwords_"))
        tampered = fake_wheel(tmp_path, "batchwords-nodetask", "0.1.0")
        blob_service.get_container_client(f"app-{emulators.suffix}").upload_blob(
            name, tampered.read_bytes(), overwrite=True
        )
        release = dataclasses.replace(emulators.release, digest="7a3be4ed7a3be4ed")
        shared, work = tmp_path / "shared", tmp_path / "task"
        run = run_install(release, shared, work)
        _, err = run.communicate(timeout=300)
        assert run.returncode != 0
        assert f"refused {url}: its sha256 is {hashlib.sha256(tampered.read_bytes()).hexdigest()}" in err
        assert not (shared / "batchwords" / "nodetask-7a3be4ed7a3be4ed").exists()  # pip never ran
        assert not (work / "wheels" / name).exists()


class TestAptLocks:
    """Point 7 of issue 21: `apt-get update` takes the lists lock, which `DPkg::Lock::Timeout` does
    not cover; on a first boot unattended-upgrades holds it. A stand-in apt-get refuses as apt does."""

    @staticmethod
    def run(tmp_path: Path, failures: int) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
        bin_dir.mkdir()
        apt = bin_dir / "apt-get"
        apt.write_text(
            "#!/bin/sh\n"
            'echo "$*" >> "$APT_LOG"\n'
            'case "$*" in *" update"*)\n'
            '  if [ "$(grep -c " update" "$APT_LOG")" -le "$APT_FAILURES" ]; then\n'
            '    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 812" >&2\n'
            "    exit 100\n"
            "  fi;;\n"
            "esac\n"
        )
        apt.chmod(0o755)
        script = system_script(install_venv_package=True, apt_tries=4, apt_delay=0) + "echo ready"
        done = subprocess.run(
            ["/bin/sh", "-c", script],
            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "APT_LOG": str(log)}
            | {"APT_FAILURES": str(failures)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done, log.read_text().splitlines()

    def test_the_update_is_retried_while_another_apt_holds_the_lists_lock(self, tmp_path):
        done, calls = self.run(tmp_path, failures=2)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ready"
        assert [call.split()[-1] for call in calls] == ["update", "update", "update", "python3-venv"]
        assert all("DPkg::Lock::Timeout=600" in call for call in calls)
        assert "failed (try 2 of 4; is another apt holding its locks?); retrying in 0 s" in done.stderr

    def test_the_retries_are_bounded_and_say_so(self, tmp_path):
        done, calls = self.run(tmp_path, failures=99)
        assert done.returncode != 0
        assert "ready" not in done.stdout
        assert len(calls) == 4
        assert "batchwords: apt-get failed 4 times" in done.stderr
