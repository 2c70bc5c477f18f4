"""Shared pytest setup: the real servers some tests run against (started on demand)."""

import os

# gcsfs otherwise stalls on a gRPC handshake against the emulator
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
os.environ.setdefault("ZPLAN_NO_COLOR", "1")

pytest_plugins = ["tests.fixtures.mariadb", "tests.fixtures.servers"]
