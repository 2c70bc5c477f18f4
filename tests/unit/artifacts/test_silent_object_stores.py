"""S3 and GCS artifact stores at an address that never answers fail clearly, in bounded time."""

from __future__ import annotations

import pytest

from tests.network import outcome_within, silent_server
from zplan.artifacts import remote
from zplan.artifacts.base import ArtifactStore, ArtifactStoreError

DIGEST = "ab" * 16


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch):
    monkeypatch.setattr(remote, "CONNECT_TIMEOUT", 1)
    monkeypatch.setattr(remote, "READ_TIMEOUT", 1)
    monkeypatch.setattr(remote, "GCS_REQUEST_TIMEOUT", 1)
    monkeypatch.setattr(remote, "S3_RETRIES", 2)


def test_s3_at_a_silent_endpoint(tmp_path, monkeypatch):
    with silent_server() as port:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
            monkeypatch.setenv(name, value)
        store = ArtifactStore.from_url("s3://bucket/artifacts", tmp_path)
        took, error = outcome_within(60, lambda: store.presence()(DIGEST))
    assert isinstance(error, ArtifactStoreError), repr(error)
    assert "artifact store s3://bucket/artifacts did not answer in time" in str(error)
    assert took < 30  # (its timeouts are 1 s; an unbounded wait is cut at 60; a loaded machine imports boto3 slowly)


def test_gcs_at_a_silent_endpoint(tmp_path, monkeypatch):
    with silent_server() as port:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
        store = ArtifactStore.from_url("gs://bucket/artifacts", tmp_path)
        took, error = outcome_within(60, lambda: store.presence()(DIGEST))
    assert isinstance(error, ArtifactStoreError), repr(error)
    assert "artifact store gs://bucket/artifacts did not answer in time" in str(error)
    assert took < 30  # (its timeouts are 1 s; an unbounded wait is cut at 60; a loaded machine imports boto3 slowly)
