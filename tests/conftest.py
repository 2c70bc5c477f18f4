"""Shared pytest setup: the real servers some tests run against (started on demand)."""

import os

# gcsfs otherwise stalls on a gRPC handshake against the emulator
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
os.environ.setdefault("ZPLAN_NO_COLOR", "1")
# Every no-change plan a test shows again from its memo is also made again and compared (zplan.operations.plan_memo).
os.environ.setdefault("ZPLAN_PLAN_MEMO", "verify")

pytest_plugins = ["tests.fixtures.mariadb", "tests.fixtures.servers", "tests.fixtures.dask_cluster", "tests.fixtures.clock"]

# CI runs the property tests on a fixed set of examples, so a run is repeatable.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
