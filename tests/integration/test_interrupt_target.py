"""Only a target for test_make_test_cleanup.py: holds Azurite open until interrupted. Skipped otherwise."""

from __future__ import annotations

import os
import time

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("ACI_INTERRUPT_TARGET") != "1", reason="run only by test_make_test_cleanup.py"
)


def test_hold_azurite_until_interrupted(azurite):
    print(f"azurite-pid-file-ready port={azurite.port}", flush=True)
    time.sleep(120)
