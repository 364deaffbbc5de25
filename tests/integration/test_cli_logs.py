"""`python -m shared.cli logs` for standalone pods: the group found from the pod's name, filtering and follow."""

from __future__ import annotations

import io
from typing import Any

import pytest

from shared import cli
from shared.naming import container_group_name
from shared.relay.kubelet.logs import LogOptions
from shared.relay.kubelet.standalone import print_logs
from shared.translate import pod_to_container_group
from tests.fakes.connector_fixtures import make_pod, settings_for


def _standalone_group(arm: Any, aci: Any) -> str:
    pod = make_pod("web", node=None)
    name = container_group_name(pod)
    aci.begin_create_or_update(name, pod_to_container_group(pod, settings=settings_for(None, arm)))
    arm.make_ready(name)
    return name


def test_logs_prints_the_tail(arm: Any, aci_adapter: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any):
    monkeypatch.chdir(tmp_path)
    group = _standalone_group(arm, aci_adapter)
    arm.set_logs(group, "nginx", "a\nb\nc\n")
    assert cli.main(["logs", "default/web", "--tail", "2"]) == 0
    assert capsys.readouterr().out == "b\nc\n"
    assert cli.main(["logs", "default/nope"]) == 1
    assert "no container group for pod default/nope" in capsys.readouterr().err
    assert cli.main(["logs", "default/web", "-c", "sidecar"]) == 1
    assert "container 'sidecar' not found" in capsys.readouterr().err


def test_follow_prints_new_lines_until_the_container_terminates(arm: Any, aci_adapter: Any) -> None:
    group = _standalone_group(arm, aci_adapter)
    arm.write_log(group, "nginx", "one")
    out = io.StringIO()
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the test's clock: each poll, the container does something new
        polls.append(seconds)
        if len(polls) == 1:
            arm.write_log(group, "nginx", "two")
        elif len(polls) == 2:
            arm.write_log(group, "nginx", "three")
            arm.terminate(group, "nginx", 0)
        assert len(polls) < 5, "the follow did not stop after the container terminated"

    assert aci_adapter.get(group)["properties"]["restartPolicy"] == "Always", "a restart ends the followed instance"
    print_logs(aci_adapter, "default", "web", None, LogOptions(follow=True), out=out, interval=0.5, sleep=sleep)
    assert out.getvalue() == "one\ntwo\nthree\n"
