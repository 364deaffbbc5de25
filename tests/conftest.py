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


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """One line per skipped check and its reason, last thing printed, so that a skipped check is never silent."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return
    terminalreporter.section("checks skipped on this machine")
    for reason, count in sorted(reasons.items()):
        terminalreporter.write_line(f"SKIPPED CHECK ({count} test{'s' if count > 1 else ''}): {reason}")
