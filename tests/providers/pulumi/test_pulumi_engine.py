"""The engine around the Automation API: stack settings, preflight, and how a
(partly) failed run becomes one result per resource. Nothing here needs the
Pulumi CLI; the real CLI path is in test_pulumi_automation.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi.automation import EngineEvent

from zplan.provider import ProviderContext, ProviderError, ResourceChange
from zplan_provider_gcp import GcpProvider

from zplan_pulumi.engine import package_settings, plugin_version, stack_spec
from zplan_pulumi.events import EventLog, engine_message
from zplan_pulumi.preflight import INSTALL_URL
from zplan_pulumi.provider import destroy_targets, refuse_strangers
from zplan_pulumi.results import after_failure, from_outputs, live_resources, read_deployment, where_live

BUCKET = "resource.gcp_storage_bucket.artifacts"


def context(tmp_path: Path, **config) -> ProviderContext:
    return ProviderContext(project_dir=tmp_path, state_dir=tmp_path / ".zplan", config=config)


def bucket_change(action="create", name="artifacts", **after) -> ResourceChange:
    attrs = {"name": f"acme-{name}", "location": "EU", **after}
    return ResourceChange(f"resource.gcp_storage_bucket.{name}", "gcp_storage_bucket", name, action,
                          None if action == "create" else attrs, None if action == "delete" else attrs)


# -- stack settings ---------------------------------------------------------------------------


def test_default_stack_is_a_local_file_backend_with_an_empty_passphrase(tmp_path):
    spec = stack_spec(context(tmp_path), "gcp", environ={})
    assert spec.backend == f"file://{tmp_path / '.zplan' / 'pulumi'}"
    assert (spec.project, spec.stack, spec.secrets_provider) == ("zplan-gcp", "default", "passphrase")
    assert spec.env == {"PULUMI_CONFIG_PASSPHRASE": ""}
    assert spec.work_dir == tmp_path / ".zplan" / "pulumi" / "workspaces" / "zplan-gcp"


def test_a_users_passphrase_is_left_to_the_environment(tmp_path):
    assert stack_spec(context(tmp_path), "gcp", environ={"PULUMI_CONFIG_PASSPHRASE": "x"}).env == {}
    assert stack_spec(context(tmp_path), "gcp", environ={"PULUMI_CONFIG_PASSPHRASE_FILE": "/p"}).env == {}


def test_a_shared_backend_needs_a_passphrase_or_a_secrets_provider(tmp_path):
    with pytest.raises(ProviderError, match="PULUMI_CONFIG_PASSPHRASE"):
        stack_spec(context(tmp_path, backend="s3://team-state"), "aws", environ={})
    spec = stack_spec(context(tmp_path, backend="s3://team-state", secrets_provider="awskms://alias/zp"),
                      "aws", environ={})
    assert (spec.backend, spec.secrets_provider, spec.env) == ("s3://team-state", "awskms://alias/zp", {})


def test_provider_block_becomes_cloud_config(tmp_path):
    ctx = context(tmp_path, project="acme", region="europe-west1", stack="team a/dev",
                  credentials="{...}", request_timeout=None, add_terraform_attribution_label=False,
                  default_labels={"team": "ml"})
    spec = stack_spec(ctx, "gcp", frozenset({"credentials"}), environ={})
    assert spec.stack == "team-a-dev"
    assert spec.config == {
        "gcp:addTerraformAttributionLabel": ("false", False),
        "gcp:credentials": ("{...}", True),
        "gcp:defaultLabels": ('{"team": "ml"}', False),
        "gcp:project": ("acme", False),
        "gcp:region": ("europe-west1", False),
    }


def test_a_setting_read_from_a_sensitive_variable_is_a_pulumi_secret(tmp_path):
    # assume_roles' external_id is no credential pulumi-aws knows of, but the user marked it secret:
    # it must not be written in clear into the stack's config (Pulumi.<stack>.yaml)
    from zplan.project import Project

    (tmp_path / "main.zp.hcl").write_text(
        'variable "external_id" {\n  sensitive = true\n  default   = "ext-7c1d2e"\n}\n\n'
        'provider "aws" {\n  region      = "eu-west-1"\n'
        '  assume_roles = [{ role_arn = "arn:aws:iam::123456789012:role/deploy", external_id = var.external_id }]\n}\n\n'
        'resource "aws_s3_bucket" "data" {\n  bucket = "acme-data"\n}\n')
    project = Project.open(tmp_path)
    spec = project.registry.open("aws", project).spec()
    value, secret = spec.config["aws:assumeRoles"]
    assert "ext-7c1d2e" in value and secret
    assert spec.config["aws:region"] == ("eu-west-1", False)


def test_credentials_reach_the_engine_through_its_environment_never_a_command_line(tmp_path):
    # stack config is set with `pulumi config set-all --secret KEY=VALUE`, readable by every user of the
    # machine in the process list while it runs: credentials go as the variables the packages read
    from zplan_provider_aws import AwsProvider

    key = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----abc"}'
    gcp = GcpProvider(context(tmp_path, project="acme", credentials=key, access_token="ya29.tok")).spec()
    assert (gcp.env["GOOGLE_CREDENTIALS"], gcp.env["GOOGLE_OAUTH_ACCESS_TOKEN"]) == (key, "ya29.tok")
    assert gcp.config == {"gcp:project": ("acme", False)}
    aws = AwsProvider(context(tmp_path, region="eu-west-1", access_key="AKIA1", secret_key="s3cr3t", token="t0k")).spec()
    assert {k: aws.env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")} == {
        "AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "t0k"}
    assert aws.config == {"aws:region": ("eu-west-1", False)}


def test_the_settings_a_provider_block_takes_are_the_installed_sdks_and_ours():
    from zplan_provider_aws import AwsProvider

    gcp, aws = GcpProvider.known_settings(), AwsProvider.known_settings()
    assert {"project", "region", "zone", "credentials", "access_token", "backend", "stack", "secrets_provider"} <= gcp
    assert {"region", "profile", "access_key", "secret_key", "token", "default_tags", "backend"} <= aws
    assert "regoin" not in gcp and len(gcp) > 100  # (its custom endpoints too)
    assert package_settings("no_such_cloud_sdk") is None  # nothing to check against: the block is left to apply's preflight


def test_the_plugin_version_is_the_one_the_sdk_was_built_for():
    from importlib.metadata import version

    assert plugin_version("gcp") == version("pulumi-gcp")
    assert plugin_version("aws") == version("pulumi-aws")
    assert plugin_version("no_such_cloud") is None


# -- preflight --------------------------------------------------------------------------------


@pytest.fixture
def no_cli(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_preflight_without_the_cli_says_what_to_install_and_changes_nothing(tmp_path, no_cli):
    provider = GcpProvider(context(tmp_path))
    with pytest.raises(ProviderError) as err:
        provider.preflight()
    message = str(err.value)
    assert "Pulumi CLI" in message and INSTALL_URL in message and "zplan plan" in message
    assert not (tmp_path / ".zplan").exists()


def test_apply_without_the_cli_reports_each_change_and_creates_nothing(tmp_path, no_cli):
    results = []
    changes = [bucket_change("create", "a"), bucket_change("noop", "b"), bucket_change("delete", "c")]
    GcpProvider(context(tmp_path)).apply(changes, results.append)
    assert [r.address for r in results] == ["resource.gcp_storage_bucket.a", "resource.gcp_storage_bucket.c"]
    assert all(not r.ok and INSTALL_URL in r.error for r in results)
    assert not (tmp_path / ".zplan").exists()


def test_a_wave_of_noops_does_not_run_the_engine(tmp_path, no_cli):
    results = []
    GcpProvider(context(tmp_path)).apply([bucket_change("noop")], results.append)
    assert results == []


def test_refresh_without_the_cli_fails_fast(tmp_path, no_cli):
    with pytest.raises(ProviderError, match="Pulumi CLI"):
        GcpProvider(context(tmp_path)).refresh({BUCKET: ("gcp_storage_bucket", {"name": "acme"})})
    assert not (tmp_path / ".zplan").exists()


def test_check_reports_values_outside_the_allowed_set(tmp_path):
    provider = GcpProvider(context(tmp_path))
    assert provider.check("gcp_storage_bucket", {"storage_class": "NEARLINE"}) == []
    [message] = provider.check("gcp_storage_bucket", {"storage_class": "COOL"})
    assert "storage_class" in message and "'NEARLINE'" in message


# -- results after a failed run ---------------------------------------------------------------

STACK_URN = "urn:pulumi:default::zplan-gcp::gcp:storage/bucket:Bucket::"


def events(*payloads: dict) -> EventLog:
    log = EventLog()
    for payload in payloads:
        log(EngineEvent.from_json(payload))
    return log


def outputs_event(name: str, op: str, outputs: dict | None) -> dict:
    urn = STACK_URN + name
    new = {"urn": urn, "type": "gcp:storage/bucket:Bucket", "id": f"{name}-id", "outputs": outputs}
    return {"sequence": 1, "timestamp": 0, "resOutputsEvent": {"metadata": {
        "op": op, "urn": urn, "type": "gcp:storage/bucket:Bucket", "provider": "",
        "new": new if outputs is not None else None, "old": None if outputs is not None else new}}}


def diagnostic(message: str, name: str | None = None) -> dict:
    diag = {"message": message + "\n", "color": "never", "severity": "error"}
    if name:
        diag["urn"] = STACK_URN + name
    return {"sequence": 2, "timestamp": 0, "diagnosticEvent": diag}


def test_event_log_keeps_last_step_and_errors_per_resource():
    log = events(
        outputs_event("a", "create", {"name": "acme-a", "selfLink": "https://a"}),
        diagnostic("googleapi: Error 409: bucket name taken", "b"),
        diagnostic("update failed"),
    )
    assert log.steps[STACK_URN + "a"].op == "create"
    assert log.steps[STACK_URN + "a"].outputs["selfLink"] == "https://a"
    assert log.error_for(STACK_URN + "b") == "googleapi: Error 409: bucket name taken"
    assert log.general == ["update failed"]
    assert engine_message(RuntimeError("ignored"), log) == "update failed"


def test_engine_message_falls_back_to_the_commands_stderr():
    exc = RuntimeError("\n code: 255\n stdout: lots of progress\n stderr: error: could not login")
    assert engine_message(exc, EventLog()) == "error: could not login"


def test_a_failed_run_tells_done_failed_and_unreached_apart():
    tm = GcpProvider.types["gcp_storage_bucket"]
    changes = [bucket_change("create", "a"), bucket_change("create", "b"), bucket_change("update", "c"),
               bucket_change("delete", "d"), bucket_change("delete", "e")]
    log = events(
        outputs_event("a", "create", {"name": "acme-a", "location": "EU", "url": "gs://acme-a",
                                      "versioning": {"enabled": False}}),
        diagnostic("googleapi: Error 409: The requested bucket name is not available", "b"),
        outputs_event("d", "delete", None),
    )
    by = {c.name: after_failure(tm, STACK_URN + c.name, c, log, "update failed") for c in changes}
    assert by["a"].ok and by["a"].attributes["url"] == "gs://acme-a"
    assert by["a"].attributes["id"] == "a-id" and by["a"].attributes["versioning"] is False
    assert by["a"].attributes["name"] == "acme-a"
    assert by["b"].error == "googleapi: Error 409: The requested bucket name is not available"
    assert by["c"].error == "not applied: update failed"
    assert by["d"].ok and by["d"].attributes is None
    assert by["e"].error == "not applied: update failed"


def test_a_replacement_whose_old_object_went_and_whose_new_one_failed_leaves_nothing():
    # delete-before-replace: Pulumi deleted the old bucket, then the create failed (its own error, or the
    # run stopped): nothing is left, so the core must forget the record instead of keeping a gone object
    tm = GcpProvider.types["gcp_storage_bucket"]
    changes = {n: bucket_change("replace", n) for n in ("r", "s", "t")}
    log = events(
        outputs_event("r", "delete-replaced", None),
        diagnostic("googleapi: Error 409: The requested bucket name is not available", "r"),
        outputs_event("s", "delete-replaced", None),
        diagnostic("googleapi: Error 403: quota exceeded", "t"),
    )
    by = {n: after_failure(tm, STACK_URN + n, c, log, "update failed") for n, c in changes.items()}
    assert (by["r"].ok, by["r"].old_deleted) == (False, True)
    assert by["r"].error == "googleapi: Error 409: The requested bucket name is not available"
    assert (by["s"].error, by["s"].old_deleted) == ("not applied: update failed", True)
    assert (by["t"].error, by["t"].old_deleted) == ("googleapi: Error 403: quota exceeded", False)  # the old one stays


def test_a_successful_run_reports_the_exported_attributes():
    tm = GcpProvider.types["gcp_storage_bucket"]
    create = bucket_change("create", "a", labels={"team": "ml"})
    outputs = {create.address: {"name": "acme-a", "location": "eu", "labels": {"team": "ml"}, "url": "gs://acme-a",
                                "project": "acme", "id": "acme-a"}}
    result = from_outputs(tm, create, outputs)
    assert result.ok
    assert result.attributes["location"] == "EU"  # as the user wrote it, not as the cloud normalised it
    assert (result.attributes["url"], result.attributes["project"]) == ("gs://acme-a", "acme")
    assert from_outputs(tm, bucket_change("delete", "a"), outputs).attributes is None
    assert "no outputs" in from_outputs(tm, bucket_change("create", "zz"), outputs).error


# -- reading the stack back -------------------------------------------------------------------


DEPLOYMENT = {"resources": [
    {"urn": "urn:pulumi:default::zplan-gcp::pulumi:pulumi:Stack::zplan-gcp-default", "type": "pulumi:pulumi:Stack",
     "custom": False},
    {"urn": "urn:pulumi:default::zplan-gcp::pulumi:providers:gcp::default_10_2_0", "type": "pulumi:providers:gcp",
     "custom": True},
    {"urn": STACK_URN + "artifacts", "id": "acme-artifacts", "type": "gcp:storage/bucket:Bucket", "custom": True,
     "outputs": {"name": "acme-artifacts", "location": "EU", "storageClass": "NEARLINE",
                 "versioning": {"enabled": True}, "labels": {"team": "ml"}, "url": "gs://acme-artifacts",
                 "selfLink": "https://sl", "project": "acme", "forceDestroy": False,
                 "uniformBucketLevelAccess": True}},
    {"urn": STACK_URN + "leaving", "id": "acme-leaving", "type": "gcp:storage/bucket:Bucket", "custom": True,
     "delete": True, "outputs": {}},
]}


def test_refreshed_state_maps_back_to_zplan_attributes():
    gone = "resource.gcp_storage_bucket.gone"
    resources = {BUCKET: ("gcp_storage_bucket", {"name": "acme-artifacts"}),
                 gone: ("gcp_storage_bucket", {"name": "acme-gone"})}
    urns = {BUCKET: STACK_URN + "artifacts", gone: STACK_URN + "gone"}
    got = read_deployment(GcpProvider.types, urns, resources, DEPLOYMENT)
    assert got[gone] is None
    assert got[BUCKET] == {"name": "acme-artifacts", "location": "EU", "project": "acme",
                           "storage_class": "NEARLINE", "versioning": True, "labels": {"team": "ml"},
                           "force_destroy": False, "uniform_bucket_level_access": True,
                           "url": "gs://acme-artifacts", "self_link": "https://sl", "id": "acme-artifacts"}


def test_refresh_reads_values_the_stack_keeps_as_secrets():
    # an input set from a secret makes its whole top-level property a secret in Pulumi's state, which
    # `pulumi stack export --show-secrets` writes as a wrapped JSON text: its fields are read through it
    import json

    from zplan_provider_aws import AwsProvider

    model = "resource.aws_sagemaker_model.scorer"
    container = {"image": "acme/scorer:1", "environment": {"API_KEY": "sk-1", "MODE": "batch"}}
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(container)}
    urn = "urn:pulumi:default::zplan-aws::aws:sagemaker/model:Model::scorer"
    deployment = {"resources": [{"urn": urn, "id": "scorer-1", "type": "aws:sagemaker/model:Model", "custom": True,
                                 "outputs": {"name": "scorer-1", "executionRoleArn": "arn:role", "arn": "arn:model",
                                             "primaryContainer": secret, "tags": {}}}]}
    recorded = {"image": "acme/scorer:1", "environment": {"API_KEY": "sk-1", "MODE": "batch"}}
    got = read_deployment(AwsProvider.types, {model: urn}, {model: ("aws_sagemaker_model", recorded)}, deployment)[model]
    assert (got["image"], got["environment"], got["arn"]) == ("acme/scorer:1", container["environment"], "arn:model")


def test_a_resource_moved_in_zplans_state_only_is_found_under_its_old_urn():
    # a moved block (or count added to the block) renames the address, not the stack's resource: apply
    # declares it with the old URN as an alias, destroy targets it and refresh reads it there, instead of
    # creating it anew and deleting the old one, or calling it gone
    token = "gcp:storage/bucket:Bucket"
    live = live_resources(DEPLOYMENT)
    wanted = {
        "resource.gcp_storage_bucket.renamed": (STACK_URN + "renamed", token, "acme-artifacts"),
        "resource.gcp_storage_bucket.new": (STACK_URN + "new", token, None),
        "resource.gcp_storage_bucket.elsewhere": (STACK_URN + "elsewhere", token, "acme-other"),
    }
    assert where_live(live, wanted) == {"resource.gcp_storage_bucket.renamed": STACK_URN + "artifacts"}
    # an object still declared at its own address is never taken for another one with the same id
    wanted["resource.gcp_storage_bucket.artifacts"] = (STACK_URN + "artifacts", token, "acme-artifacts")
    assert where_live(live, wanted) == {"resource.gcp_storage_bucket.artifacts": STACK_URN + "artifacts"}
    resources = {"resource.gcp_storage_bucket.renamed": ("gcp_storage_bucket", {"name": "acme-artifacts"})}
    found = where_live(live, {"resource.gcp_storage_bucket.renamed": (STACK_URN + "renamed", token, "acme-artifacts")})
    refreshed = read_deployment(GcpProvider.types, found, resources, DEPLOYMENT)["resource.gcp_storage_bucket.renamed"]
    assert refreshed["url"] == "gs://acme-artifacts"


def test_a_run_that_would_delete_what_zplan_does_not_record_is_refused(tmp_path):
    # `zplan state rm` forgets a bucket, or another zplan stack (its state in its own database) applied into
    # the same Pulumi stack: `pulumi up` deletes whatever the program leaves out, so no run may start
    spec = stack_spec(context(tmp_path), "gcp", environ={})
    live = live_resources(DEPLOYMENT)
    refuse_strangers(spec, live, {STACK_URN + "artifacts", STACK_URN + "new"})  # all declared: fine
    with pytest.raises(ProviderError) as refused:
        refuse_strangers(spec, live, {STACK_URN + "new"})
    message = str(refused.value)
    assert "holds 1 resource(s) this zplan state does not record (artifacts)" in message
    assert "nothing was applied" in message and STACK_URN + "artifacts" in message and "pulumi state delete" in message


def test_only_cloud_resources_count_as_live():
    assert list(live_resources(DEPLOYMENT)) == [STACK_URN + "artifacts"]


def test_destroy_targets_exactly_the_named_resources():
    live = ["u:a", "u:b"]
    assert destroy_targets(live, ["u:a", "u:gone"]) == ["u:a"]  # b stays: a targeted destroy
    assert destroy_targets(live, ["u:b", "u:a"]) is None  # nothing else left: the whole stack
    assert destroy_targets(live, ["u:gone"]) == []  # nothing to do
    assert destroy_targets([], ["u:a"]) == []


def failing_cli(tmp_path, monkeypatch, script: str) -> None:
    """A ``pulumi`` on PATH that fails, as a broken install or an unreachable backend would."""
    bin_dir = tmp_path / "failing-bin"
    bin_dir.mkdir()
    cli = bin_dir / "pulumi"
    cli.write_text("#!/bin/sh\n" + script)
    cli.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "unused")  # passes the credentials preflight


UNREACHABLE = 'echo "error: the backend at s3://team-state is unreachable" >&2\nexit 255\n'


@pytest.mark.parametrize(
    "script, reason",
    [
        (f'[ "$1" = version ] && echo v3.272.0 && exit 0\n{UNREACHABLE}', "s3://team-state is unreachable"),
        (UNREACHABLE, "the Pulumi CLI failed: `pulumi version` exited with status 255"),
    ],
    ids=["engine-error", "cli-broken"],
)
def test_a_failed_refresh_is_a_clear_error_with_the_reason(tmp_path, monkeypatch, script, reason):
    failing_cli(tmp_path, monkeypatch, script)
    with pytest.raises(ProviderError) as err:
        GcpProvider(context(tmp_path)).refresh({BUCKET: ("gcp_storage_bucket", {"name": "acme"})})
    assert str(err.value).startswith("pulumi refresh failed:")
    assert reason in str(err.value)


def test_pulumi_stacks_take_one_run_at_a_time_and_the_whole_desired_set():
    from zplan_pulumi import PulumiProvider

    assert PulumiProvider.concurrent_applies is False and PulumiProvider.declarative is True
