"""Child processes the tests start, recorded so `make test` can stop them even if pytest dies.

scripts/test.sh sets ACI_TEST_RUN_DIR and, on exit (Ctrl-C included), kills
the process group of every pid file found there. Fixtures still stop their
processes themselves; this is the safety net for a killed test run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _record(name: str) -> Path | None:
    """The file in `make test`'s run folder that records `name`; None outside `make test`."""
    run_dir = os.environ.get("ACI_TEST_RUN_DIR")
    return Path(run_dir) / name if run_dir else None


def _write(name: str, text: str) -> None:
    path = _record(name)
    if path is not None and path.parent.is_dir():
        path.write_text(text)


def _remove(name: str) -> None:
    path = _record(name)
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def track(pid: int) -> None:
    """Record a process group leader started with start_new_session=True."""
    _write(f"{pid}.pid", str(pid))


def untrack(pid: int) -> None:
    _remove(f"{pid}.pid")


def track_dir(path: Path) -> None:
    """Record a scratch folder outside the run folder (etcd's data on /dev/shm): removed on exit if pytest is killed."""
    _write(f"{path.name}.dir", str(path))


def untrack_dir(path: Path) -> None:
    _remove(f"{path.name}.dir")
