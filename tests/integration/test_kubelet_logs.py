"""The relay's kubelet API, /containerLogs and the gate in front of it, against the fake apiserver and ARM."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.clock import ManualClock
from emulator.server import ArmServer
from shared.naming import container_group_name
from tests.fakes.arm_fixtures import fake_arm
from tests.fakes.waiting import wait_for

pytestmark = pytest.mark.fake_kube_only(
    "grants through the fake's TokenReview/SubjectAccessReview model (kube_api.reviews)"
)


@pytest.fixture
def arm() -> Iterator[ArmServer]:
    """The fake ARM on a clock the test moves, so log lines get distinct, known timestamps."""
    with fake_arm(clock=ManualClock()) as server:
        yield server


def test_logs_with_tail_and_timestamps(kubelet: Any) -> None:
    pod = kubelet.run_pod()
    group = container_group_name(pod)
    kubelet.arm.set_logs(group, "nginx", "one\ntwo\nthree\n")
    answer = kubelet.get("/containerLogs/default/web/nginx")
    assert answer.status_code == 200, answer.text
    assert answer.text == "one\ntwo\nthree\n"
    tailed = kubelet.get("/containerLogs/default/web/nginx?tailLines=2&timestamps=true")
    lines = tailed.text.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["two", "three"]
    assert all(line[:30].endswith("Z") and line[19] == "." for line in lines), lines
    assert kubelet.get("/containerLogs/default/web/nginx?limitBytes=6").text == "one\ntw"


def test_since_time_keeps_only_newer_lines(kubelet: Any) -> None:
    pod = kubelet.run_pod()
    group = container_group_name(pod)
    kubelet.arm.write_log(group, "nginx", "old")
    kubelet.arm.advance(60)
    kubelet.arm.write_log(group, "nginx", "new")
    stamped = kubelet.get("/containerLogs/default/web/nginx?timestamps=true").text.splitlines()
    since = stamped[1].split(" ", 1)[0]
    assert kubelet.get(f"/containerLogs/default/web/nginx?sinceTime={since}").text == "new\n"


def test_bad_options_and_previous_are_400_naming_the_problem(kubelet: Any) -> None:
    kubelet.run_pod()
    answer = kubelet.get("/containerLogs/default/web/nginx?tailLines=-1")
    assert answer.status_code == 400 and "tailLines" in answer.text
    both = kubelet.get("/containerLogs/default/web/nginx?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z")
    assert both.status_code == 400 and "at most one" in both.text
    previous = kubelet.get("/containerLogs/default/web/nginx?previous=true")
    assert previous.status_code == 400 and "Azure Container Instances keeps only" in previous.text


def test_pods_not_on_this_node_and_unknown_containers_are_404(kubelet: Any) -> None:
    from tests.fakes.connector_fixtures import make_pod

    kubelet.run_pod()
    kubelet.kube_api.create(make_pod("elsewhere", node="real-node-1"))
    assert kubelet.get("/containerLogs/default/elsewhere/nginx").status_code == 404
    assert kubelet.get("/containerLogs/default/missing/nginx").status_code == 404
    assert kubelet.get("/containerLogs/default/web/sidecar").status_code == 404


def test_follow_streams_new_lines_and_ends_when_the_container_terminates(kubelet: Any) -> None:
    import requests

    pod = kubelet.run_pod()
    group = container_group_name(pod)
    kubelet.arm.write_log(group, "nginx", "first")
    received: list[str] = []
    done = threading.Event()

    def follow() -> None:
        with requests.get(
            kubelet.url + "/containerLogs/default/web/nginx?follow=true",
            cert=kubelet.cert,
            verify=kubelet.server.cert_file,
            stream=True,
            timeout=30,
        ) as answer:
            for line in answer.iter_lines(decode_unicode=True):
                received.append(line)
        done.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    wait_for(lambda: received == ["first"])
    kubelet.arm.advance(1)
    kubelet.arm.write_log(group, "nginx", "second")
    wait_for(lambda: received == ["first", "second"])
    assert not done.is_set()
    kubelet.arm.write_log(group, "nginx", "last words")
    status = {"containerStatuses": [_terminated("nginx")]}
    kubelet.kube_api.patch("pods", "default", "web", {"status": status}, subresource="status")
    assert done.wait(10), "the follow did not end when the container terminated"
    assert received == ["first", "second", "last words"]


def test_requests_without_identity_are_401_and_unauthorized_users_403(kubelet: Any, tmp_path: Any) -> None:
    kubelet.run_pod()
    assert kubelet.get("/containerLogs/default/web/nginx", cert=None).status_code == 401
    stranger = kubelet.client_cert("stranger", tmp_path=tmp_path)
    denied = kubelet.get("/containerLogs/default/web/nginx", cert=stranger)
    assert denied.status_code == 403
    assert "user=stranger" in denied.text and "subresource=proxy" in denied.text
    kubelet.kube_api.reviews.add_token("good-token", "alice")
    kubelet.kube_api.reviews.grant("alice", "get", "nodes/proxy", "aci-connector-linux")
    headers = {"Authorization": "Bearer good-token"}
    assert kubelet.get("/healthz", cert=None, headers=headers).status_code == 200
    assert kubelet.get("/healthz", cert=None, headers={"Authorization": "Bearer bad"}).status_code == 401
    calls = len(kubelet.kube_api.reviews.calls)
    assert kubelet.get("/healthz", cert=None, headers=headers).status_code == 200
    assert len(kubelet.kube_api.reviews.calls) == calls, "token and access decisions are cached"


def test_a_certificate_from_another_ca_is_refused(kubelet: Any, tmp_path: Any) -> None:
    import requests
    import trustme

    other = trustme.CA().issue_cert(common_name="kube-apiserver-kubelet-client")
    cert, key = tmp_path / "o.crt", tmp_path / "o.key"
    other.cert_chain_pems[0].write_to_path(str(cert))
    other.private_key_pem.write_to_path(str(key))
    try:
        answer = kubelet.get("/healthz", cert=(str(cert), str(key)))
    except requests.exceptions.SSLError:
        return
    except requests.exceptions.ConnectionError:
        return
    raise AssertionError(f"a foreign certificate got an answer: {answer.status_code}")


def test_pods_lists_this_nodes_pods(kubelet: Any) -> None:
    from tests.fakes.connector_fixtures import make_pod

    kubelet.run_pod()
    kubelet.kube_api.create(make_pod("elsewhere", node="real-node-1"))
    body = kubelet.get("/pods").json()
    assert body["kind"] == "PodList"
    assert [item["metadata"]["name"] for item in body["items"]] == ["web"]


def _terminated(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": 0,
        "image": "nginx:1.27",
        "imageID": "",
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }


def test_follow_stops_polling_when_the_client_goes_away_or_the_pod_is_deleted(kubelet: Any) -> None:
    import requests

    pod = kubelet.run_pod()
    group = container_group_name(pod)
    kubelet.arm.write_log(group, "nginx", "only line")
    url = kubelet.url + "/containerLogs/default/web/nginx?follow=true"
    with requests.get(url, cert=kubelet.cert, verify=kubelet.server.cert_file, stream=True, timeout=30) as answer:
        lines = answer.iter_lines(decode_unicode=True)  # kept: dropping the iterator closes the connection
        assert next(lines) == "only line"
        wait_for(lambda: kubelet.arm.counts["logs"] >= 3)  # it polls while the client listens
        assert _follows(kubelet) == 1
    wait_for(lambda: _follows(kubelet) == 0)  # the client left: the follower ends and stops reading ACI
    polls = kubelet.arm.counts["logs"]

    ended = threading.Event()

    def follow() -> None:
        with requests.get(url, cert=kubelet.cert, verify=kubelet.server.cert_file, stream=True, timeout=30) as answer:
            for _ in answer.iter_lines():
                pass
        ended.set()

    threading.Thread(target=follow, daemon=True).start()
    wait_for(lambda: kubelet.arm.counts["logs"] > polls + 1)
    kubelet.kube_api.delete("pods", "default", "web", grace_period_seconds=0)
    assert ended.wait(10), "the follow did not end when the pod was deleted"


def _follows(kubelet: Any) -> int:
    return sum(source.following for source in kubelet.server.log_sources.values())
