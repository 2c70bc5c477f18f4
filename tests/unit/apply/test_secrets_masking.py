"""zplan.secrets: the one module every masking path goes through."""

from __future__ import annotations

from zplan.config.values import UNKNOWN
from zplan.secrets import SENSITIVE, digest_secrets, is_digest, mask, mask_attributes, redact, redact_file


def test_mask_hides_every_string_holding_a_secret_and_turns_unknown_into_null():
    value = {"url": "postgres://u:pw@h", "n": 1, "list": ["pw", "x"], "later": UNKNOWN}
    assert mask(value, ["pw"], unknown=UNKNOWN) == {"url": SENSITIVE, "n": 1, "list": [SENSITIVE, "x"], "later": None}
    assert mask("pw", [""]) == "pw"  # an empty secret hides nothing


def test_attributes_are_hidden_by_schema_name_or_when_sealed():
    attrs = {"password": "x", "empty": None, "sealed": {"$sealed": "tok"}, "name": "has pw inside"}
    assert mask_attributes(attrs, ["password", "empty"], ["pw"]) == {"password": SENSITIVE, "empty": None, "sealed": SENSITIVE, "name": SENSITIVE}
    assert mask_attributes(attrs, ["empty"], hide_null=True)["empty"] == SENSITIVE


def test_digests_stand_for_secrets_in_keys_and_change_with_them():
    a, b = digest_secrets({"p": "pw1"}, ["pw1"]), digest_secrets({"p": "pw2"}, ["pw2"])
    assert is_digest(a["p"]) and a != b and "pw1" not in a["p"]
    assert digest_secrets({"p": "plain"}, ["pw1"]) == {"p": "plain"}


def test_redaction_of_texts_and_files(tmp_path):
    assert redact("failed with pw in it", ["pw"]) == f"failed with {SENSITIVE} in it" and redact(None, ["pw"]) is None
    log = tmp_path / "step.log"
    log.write_text("token=pw\n")
    redact_file(log, ["pw"])
    assert log.read_text() == f"token={SENSITIVE}\n"
