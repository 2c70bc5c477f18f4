"""MySQL stores (state and metadata) at an address that never answers fail clearly, in bounded time."""

from __future__ import annotations

import pytest

from tests.network import outcome_within, silent_server
from zplan.diags import DiagnosticError
from zplan.metadata import urls
from zplan.metadata.reader import Reader
from zplan.state.mysql import MySQLBackend


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch):
    monkeypatch.setattr(urls, "CONNECT_TIMEOUT", 1)
    monkeypatch.setattr(urls, "READ_TIMEOUT", 1)


def assert_clear_timeout(error: BaseException | None, port: int) -> None:
    assert isinstance(error, DiagnosticError), repr(error)
    text = str(error)
    assert f"cannot connect to mysql://zplan@127.0.0.1:{port}/zplan: the server did not answer in time" in text
    assert "Traceback" not in text


def test_the_state_backend_reports_a_silent_server():
    with silent_server() as port:
        backend = MySQLBackend(f"mysql://zplan@127.0.0.1:{port}/zplan")
        took, error = outcome_within(20, backend.read)
    assert_clear_timeout(error, port)
    assert took < 10


def test_the_metadata_store_reports_a_silent_server():
    with silent_server() as port:
        reader = Reader(urls.parse_store_url(f"mysql://zplan@127.0.0.1:{port}/zplan", project_dir=None))
        took, error = outcome_within(20, lambda: reader.runs())
    assert_clear_timeout(error, port)
    assert took < 10
