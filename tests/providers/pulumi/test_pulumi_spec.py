"""The type-table machinery: paths, argument building, read-back, naming."""

from __future__ import annotations

import json
import subprocess
import sys

from zplan_pulumi.spec import (
    JSON,
    arg,
    args_for,
    camel,
    check_values,
    decode_like,
    get_path,
    logical_name,
    merge_result,
    out,
    read_wire,
    resource_type,
    set_path,
    urn,
)

TM = resource_type(
    "demo_thing",
    "pulumi_gcp.storage:Bucket",
    "demo:index/thing:Thing",
    "a test type",
    name=arg(required=True, force_new=True),
    size=arg(type="number", default=10),
    tier=arg("settings.tier"),
    first_model=arg("variants.0.model_name"),
    policy=arg(type="any", codec=JSON),
    secret=arg(sensitive=True),
    kind=arg(choices=("a", "b")),
    url=out(),
)


def test_camel_matches_pulumi_wire_names():
    assert camel("storage_class") == "storageClass"
    assert camel("uniform_bucket_level_access") == "uniformBucketLevelAccess"
    assert camel("name") == "name"


def test_set_and_get_paths_through_objects_and_lists():
    target: dict = {}
    set_path(target, ["settings", "tier"], "db-f1-micro")
    set_path(target, ["variants", "0", "model_name"], "m1")
    set_path(target, ["variants", "0", "count"], 2)
    set_path(target, ["tags", "1"], "x")
    assert target == {"settings": {"tier": "db-f1-micro"}, "variants": [{"model_name": "m1", "count": 2}],
                      "tags": [None, "x"]}
    assert get_path(target, ["variants", "0", "model_name"]) == "m1"
    assert get_path(target, ["variants", "3", "model_name"]) is None
    assert get_path({"modelName": "camel"}, ["model_name"]) == "camel"
    assert get_path(None, ["a"]) is None

    class Obj:
        tier = "t"

    assert get_path({"settings": Obj()}, ["settings", "tier"]) == "t"


def test_args_leave_out_unset_and_computed_and_apply_defaults():
    args = args_for(TM, {"name": "n", "tier": "small", "url": "ignored", "unknown": 1})
    assert args == {"name": "n", "size": 10, "settings": {"tier": "small"}}


def test_args_nest_lists_encode_json_and_wrap_secrets():
    args = args_for(
        TM,
        {"name": "n", "first_model": "m", "policy": {"b": 1, "a": [2]}, "secret": "pw"},
        wrap_secret=lambda v: ("SECRET", v),
    )
    assert args["variants"] == [{"model_name": "m"}]
    assert args["policy"] == '{"a": [2], "b": 1}'
    assert args["secret"] == ("SECRET", "pw")
    assert args_for(TM, {"name": "n", "policy": '{"x": 1}'})["policy"] == '{"x": 1}'


def test_read_wire_uses_camel_names_id_and_keeps_recorded_secrets():
    outputs = {"name": "n", "size": 3, "settings": {"tier": "big"}, "variants": [{"modelName": "m"}],
               "url": "https://x", "secret": "[secret]", "policy": '{"b":1,"a":[2]}'}
    recorded = {"secret": "pw", "policy": {"a": [2], "b": 1}}
    got = read_wire(TM, "the-id", outputs, recorded)
    assert got == {"name": "n", "size": 3, "tier": "big", "first_model": "m", "policy": {"a": [2], "b": 1},
                   "secret": "pw", "kind": None, "url": "https://x", "id": "the-id"}


def test_decode_like_treats_equivalent_json_as_unchanged():
    f = TM.fields["policy"]
    assert decode_like(f, '{"a": 1}', '{"a":1}') == '{"a":1}'  # same document: recorded text kept
    assert decode_like(f, '{"a": 2}', '{"a":1}') == '{"a": 2}'  # drifted: the cloud's text
    assert decode_like(f, '{"a": 2}', {"a": 1}) == {"a": 2}  # recorded as a map: compare as a map
    assert decode_like(f, "not json", {"a": 1}) == "not json"
    assert decode_like(TM.fields["name"], '{"a": 1}', None) == '{"a": 1}'  # no codec: as is


def test_merge_result_prefers_the_users_values_then_the_clouds():
    read = {"name": "N-normalised", "size": 99, "tier": "big", "url": "https://x", "id": "i", "junk": 1}
    merged = merge_result(TM, read, {"name": "n", "tier": None})
    assert merged == {"name": "n", "size": 99, "tier": "big", "url": "https://x", "id": "i"}


def test_check_values_reports_disallowed_literals_only():
    assert check_values(TM, {"kind": "a"}) == []
    assert check_values(TM, {"kind": "c"}) == ["demo_thing.kind must be one of 'a', 'b', not 'c'"]
    assert check_values(TM, {"kind": object()}) == []  # an unresolved reference is checked at apply


def test_names_and_urns():
    assert logical_name("resource.demo_thing.main", "demo_thing") == "main"
    assert logical_name("resource.demo_thing.main[0]", "demo_thing") == "main[0]"
    assert urn("dev", "zplan-demo", TM, "resource.demo_thing.main") == (
        "urn:pulumi:dev::zplan-demo::demo:index/thing:Thing::main"
    )


def test_every_type_gets_a_computed_id():
    assert TM.schema.attributes["id"].computed
    assert not TM.schema.attributes["id"].settable
    assert set(TM.schema.inputs()) == set(TM.settable())
    assert TM.schema.sensitive_names() == {"secret"}


def test_importing_the_providers_does_not_import_pulumi():
    code = (
        "import sys, zplan_pulumi, zplan_provider_gcp, zplan_provider_aws\n"
        "from zplan.provider import ProviderRegistry\n"
        "r = ProviderRegistry()\n"
        "assert r.schema('gcp_storage_bucket') and r.schema('aws_s3_bucket')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_gcp', 'pulumi_aws')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_round_trip_of_json_codec_is_stable():
    f = TM.fields["policy"]
    doc = {"Statement": [{"Effect": "Allow"}], "Version": "2012-10-17"}
    sent = args_for(TM, {"name": "n", "policy": doc})["policy"]
    assert json.loads(sent) == doc
    assert decode_like(f, sent, doc) == doc
