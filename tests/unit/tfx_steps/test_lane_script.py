"""scripts/tfx-lane says clearly that it skips the TFX lane when no Python 3.10 exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "tfx-lane"


@pytest.mark.skipif(sys.version_info[:2] == (3, 10), reason="this interpreter is a Python 3.10: the lane would run")
def test_without_python_3_10_the_lane_is_skipped_with_a_message(tmp_path):
    # No pyenv, no python3.10 on this PATH, and ZPLAN_TFX_PYTHON names an interpreter of another version.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ZPLAN_TFX_PYTHON": sys.executable}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "--- TFX lane skipped: no Python 3.10 interpreter found (set ZPLAN_TFX_PYTHON to one) ---"
