"""The inline program of one wave, run under Pulumi's unit-test mocks."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime.settings import get_root_resource

from zplan.provider import ResourceChange
from zplan_provider_gcp import TYPES

from zplan_pulumi import testing
from zplan_pulumi.program import make_program

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def change(action: str, type_: str, name: str, after: dict) -> ResourceChange:
    return ResourceChange(f"resource.{type_}.{name}", type_, name, action,
                          None if action == "create" else after, None if action == "delete" else after)


def test_a_wave_declares_what_must_exist_and_exports_a_record_per_address():
    mocks, monitor = testing.install({"gcp:storage/bucket:Bucket": {"url": "gs://x"}})
    wave = [
        change("noop", "gcp_storage_bucket", "kept", {"name": "acme-kept", "location": "EU", "url": "gs://k"}),
        change("create", "gcp_storage_bucket", "new", {"name": "acme-new", "location": "EU"}),
        change("delete", "gcp_storage_bucket", "old", {"name": "acme-old", "location": "EU"}),
        change("update", "gcp_sql_user", "user", {"name": "zplan", "instance": "meta", "password": "s3cret"}),
    ]
    exported: dict = {}

    @pulumi.runtime.test
    def run():
        make_program(wave, TYPES)()
        return pulumi.Output.from_input(dict(get_root_resource().outputs)).apply(exported.update)

    run()
    assert sorted(r.name for r in mocks.registrations) == ["kept", "new", "user"]  # the delete is left out
    assert sorted(exported) == ["resource.gcp_sql_user.user", "resource.gcp_storage_bucket.kept",
                                "resource.gcp_storage_bucket.new"]
    kept = exported["resource.gcp_storage_bucket.kept"]
    assert (kept["name"], kept["url"], kept["id"]) == ("acme-kept", "gs://x", "kept-id")
    kept_inputs = next(r.inputs for r in mocks.registrations if r.name == "kept")
    # the recorded url is not an input; the storage class left unset is pulumi-gcp's default
    assert kept_inputs == {"name": "acme-kept", "location": "EU", "storageClass": "STANDARD"}
    user = exported["resource.gcp_sql_user.user"]
    assert user["name"] == "zplan" and "password" not in user  # secrets are never exported
    assert all(opts["delete_before_replace"] for opts in monitor.options.values())


def test_a_resource_moved_in_zplans_state_is_declared_with_its_old_urn_as_an_alias():
    mocks, monitor = testing.install()
    old = "urn:pulumi:test::zplan-test::gcp:storage/bucket:Bucket::a"
    wave = [change("noop", "gcp_storage_bucket", "renamed", {"name": "acme-a", "location": "EU", "id": "acme-a"}),
            change("update", "gcp_storage_bucket", "other", {"name": "acme-o", "location": "EU"})]

    @pulumi.runtime.test
    def run():
        make_program(wave, TYPES, {"resource.gcp_storage_bucket.renamed": old})()
        return pulumi.Output.from_input(dict(get_root_resource().outputs))

    run()
    assert monitor.options["renamed"]["aliases"] == [old]  # Pulumi renames it: no create, no delete
    assert monitor.options["other"]["aliases"] == []
