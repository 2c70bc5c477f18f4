"""The real Automation API path: a local file backend, a passphrase, up, outputs,
destroy. Needs the Pulumi CLI (skipped without it) but no cloud and no network:
the programs declare no cloud resources."""

from __future__ import annotations

import shutil

import pulumi
import pytest

from zplan.provider import ProviderContext, ResourceChange
from zplan_provider_gcp import GcpProvider

from zplan_pulumi.engine import open_stack, stack_spec

pytestmark = pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the Pulumi CLI")


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "unused")  # passes the credentials preflight
    return ProviderContext(project_dir=tmp_path, state_dir=tmp_path / ".zplan", config={"project": "acme"})


def program():
    pulumi.export("greeting", "hello")
    pulumi.export("token", pulumi.Output.secret("s3cret"))


def test_up_outputs_and_destroy_on_the_local_file_backend(ctx, tmp_path):
    spec = stack_spec(ctx, "zplantest")  # a package without a plugin: nothing to download
    stack = open_stack(spec, program)
    assert stack.get_config("zplantest:project").value == "acme"
    result = stack.up(color="never")
    assert result.outputs["greeting"].value == "hello"
    assert result.outputs["token"].value == "s3cret" and result.outputs["token"].secret
    state = tmp_path / ".zplan" / "pulumi" / ".pulumi" / "stacks" / "zplan-zplantest"
    saved = "".join(p.read_text() for p in state.glob("default.json*"))
    assert "hello" in saved and "s3cret" not in saved  # the secret is encrypted at rest
    stack.destroy(color="never")
    assert open_stack(spec, program).outputs() == {}


def test_provider_refresh_and_destroy_of_an_empty_stack(ctx):
    provider = GcpProvider(ctx)
    address = "resource.gcp_storage_bucket.artifacts"
    assert provider.refresh({address: ("gcp_storage_bucket", {"name": "acme"})}) == {address: None}
    results = []
    gone = ResourceChange(address, "gcp_storage_bucket", "artifacts", "delete", {"name": "acme"}, None)
    provider.destroy([gone], results.append)
    assert [(r.address, r.ok, r.attributes) for r in results] == [(address, True, None)]
