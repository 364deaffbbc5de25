"""Test ground: real Azurite and the fake Kubernetes and ARM servers, started on free 127.0.0.1 ports."""

from hypothesis import settings

pytest_plugins = [
    "tests.fakes.azurite_fixtures",
    "tests.fakes.kube_fixtures",
    "tests.fakes.arm_fixtures",
    "tests.fakes.connector_fixtures",
    "tests.fakes.kubelet_fixtures",
]

# Property tests check properties, not speed: on a machine shared by many runs one example may take far longer
# than hypothesis' 200 ms default deadline, which would fail a correct test (timings belong in bench/).
settings.register_profile("shared-machine", deadline=None)
settings.load_profile("shared-machine")
