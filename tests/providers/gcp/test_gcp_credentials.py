"""gcp's credentials preflight (no Pulumi needed)."""

from __future__ import annotations

import pytest

from zplan_provider_gcp import provider as gcp_provider


@pytest.fixture
def not_on_gce(monkeypatch):
    monkeypatch.setattr(gcp_provider, "dmi_says", lambda *needles: False)


def test_no_credentials_anywhere_is_a_clear_error(tmp_path, not_on_gce):
    message = gcp_provider.missing_credentials({}, {"HOME": str(tmp_path)})
    assert "gcloud auth application-default login" in message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message


@pytest.mark.parametrize("env", [{"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}, {"GOOGLE_OAUTH_ACCESS_TOKEN": "t"}])
def test_credentials_from_the_environment(tmp_path, not_on_gce, env):
    assert gcp_provider.missing_credentials({}, {"HOME": str(tmp_path), **env}) is None


def test_credentials_from_a_gcloud_login_or_the_provider_block(tmp_path, not_on_gce):
    adc = tmp_path / ".config" / "gcloud" / "application_default_credentials.json"
    assert gcp_provider.missing_credentials({"credentials": "{...}"}, {"HOME": str(tmp_path)}) is None
    adc.parent.mkdir(parents=True)
    adc.write_text("{}")
    assert gcp_provider.missing_credentials({}, {"HOME": str(tmp_path)}) is None
