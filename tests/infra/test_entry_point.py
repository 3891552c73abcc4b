"""Pulumi.yaml at the checkout's top, and the program run from there as the language host runs it.

The language host starts ``pulumi-language-python-exec`` in the program's folder
(the project's folder, as Pulumi.yaml has no ``main``), which runs that folder
with ``runpy.run_path``. The dynamic-provider host starts in the same folder and
resolves ``virtualenv`` against it (pulumi/pulumi#7061): one folder, one venv.
"""

from __future__ import annotations

import json
import runpy
from typing import Any

import pulumi
import pytest
import yaml

import infra.program
from tests.infra.test_program import stack_values
from tests.support import pulumi_mocks
from tests.support.words import ROOT


def test_the_project_and_its_stacks_are_at_the_top():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert "main" not in project, "a main folder would move the provider host away from the venv"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
    assert (ROOT / "__main__.py").is_file()
    assert sorted(path.name for path in ROOT.glob("Pulumi.*.yaml")) == ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]
    assert not list((ROOT / "infra").glob("Pulumi*.yaml"))


@pulumi.runtime.test
def test_the_program_runs_from_the_top_as_the_language_host_runs_it(monkeypatch, wheelhouse):
    values = stack_values("dev")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
    mocks = pulumi_mocks.install(stack="dev")
    pulumi.runtime.set_all_config(values)
    wheel = infra.program.find_wheel(wheelhouse)
    monkeypatch.setattr(infra.program, "find_wheel", lambda *_: wheel)
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", exported.__setitem__)
    monkeypatch.chdir(ROOT)
    runpy.run_path(".", run_name="__main__")
    assert {"job_state", "pool_id", "batch_account_endpoint", "top_words"} <= set(exported)

    def check(_: Any) -> None:
        (pool,) = mocks.of_type("azure-native:batch:Pool")
        assert pool.inputs["startTask"]["commandLine"]

    return pulumi.Output.from_input(exported["pool_id"]).apply(check)


@pytest.fixture(autouse=True)
def _clear_config() -> Any:
    yield
    pulumi.runtime.set_all_config({})
