from __future__ import annotations

import socket
from pathlib import Path

import pytest

from zplan.provider import ProviderContext
from zplan_provider_local import LocalProvider


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    return tmp_path / "proj"


@pytest.fixture
def provider(project: Path) -> LocalProvider:
    return LocalProvider(ProviderContext(project_dir=project, state_dir=project / ".zplan"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
