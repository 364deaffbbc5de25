"""Child processes the tests start, recorded so `make test` can stop them even if pytest dies.

scripts/test.sh sets ACI_TEST_RUN_DIR and, on exit (Ctrl-C included), kills
the process group of every pid file found there. Fixtures still stop their
processes themselves; this is the safety net for a killed test run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _pid_file(pid: int) -> Path | None:
    run_dir = os.environ.get("ACI_TEST_RUN_DIR")
    return Path(run_dir) / f"{pid}.pid" if run_dir else None


def track(pid: int) -> None:
    """Record a process group leader started with start_new_session=True."""
    path = _pid_file(pid)
    if path is not None and path.parent.is_dir():
        path.write_text(str(pid))


def untrack(pid: int) -> None:
    path = _pid_file(pid)
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def track_dir(path: Path) -> None:
    """Record a scratch folder outside the run folder (etcd's data on /dev/shm): removed on exit if pytest is killed."""
    run_dir = os.environ.get("ACI_TEST_RUN_DIR")
    if run_dir and Path(run_dir).is_dir():
        (Path(run_dir) / f"{path.name}.dir").write_text(str(path))


def untrack_dir(path: Path) -> None:
    run_dir = os.environ.get("ACI_TEST_RUN_DIR")
    if run_dir:
        with contextlib.suppress(FileNotFoundError):
            (Path(run_dir) / f"{path.name}.dir").unlink()
