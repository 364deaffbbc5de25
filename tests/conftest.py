"""Test ground: real Azurite and the fake Kubernetes and ARM servers, started on free 127.0.0.1 ports."""

pytest_plugins = [
    "tests.fakes.azurite_fixtures",
    "tests.fakes.kube_fixtures",
    "tests.fakes.arm_fixtures",
    "tests.fakes.connector_fixtures",
    "tests.fakes.kubelet_fixtures",
]
