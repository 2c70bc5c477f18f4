"""zplan.secrets: the one module every masking path goes through."""

from __future__ import annotations

from zplan.config.values import UNKNOWN
from zplan.secrets import SENSITIVE, Redactor, digest_secrets, is_digest, mask, mask_attributes, redact, secret_forms


def test_mask_hides_every_string_holding_a_secret_and_turns_unknown_into_null():
    value = {"url": "postgres://u:pw42@h", "n": 1, "list": ["pw42", "x"], "later": UNKNOWN}
    assert mask(value, ["pw42"], unknown=UNKNOWN) == {"url": SENSITIVE, "n": 1, "list": [SENSITIVE, "x"], "later": None}
    assert mask("pw", [""]) == "pw"  # an empty secret hides nothing


def test_attributes_are_hidden_by_schema_name_or_when_sealed():
    attrs = {"password": "x", "empty": None, "sealed": {"$sealed": "tok"}, "name": "has pw42 inside"}
    assert mask_attributes(attrs, ["password", "empty"], ["pw42"]) == {"password": SENSITIVE, "empty": None, "sealed": SENSITIVE, "name": SENSITIVE}
    assert mask_attributes(attrs, ["empty"], hide_null=True)["empty"] == SENSITIVE


def test_digests_stand_for_secrets_in_keys_and_change_with_them():
    a, b = digest_secrets({"p": "pw1"}, ["pw1"]), digest_secrets({"p": "pw2"}, ["pw2"])
    assert is_digest(a["p"]) and a != b and "pw1" not in a["p"]
    assert digest_secrets({"p": "plain"}, ["pw1"]) == {"p": "plain"}


def test_redaction_of_texts():
    assert redact("failed with pw42 in it", ["pw42"]) == f"failed with {SENSITIVE} in it" and redact(None, ["pw42"]) is None


def test_a_log_is_redacted_as_it_is_written_even_when_a_secret_is_split_across_writes():
    redactor = Redactor(["hunter2"])
    written = [redactor.feed(b"line one\nthe pass is hun"), redactor.feed(b"ter2, next\nhun"), redactor.feed(b"gry\n")]
    assert written[0] == b"line one\nthe pass is "  # only what may start the secret waits
    assert b"".join(written) + redactor.flush() == f"line one\nthe pass is {SENSITIVE}, next\nhungry\n".encode()
    assert all(b"hunter2" not in w for w in written)


def test_sensitive_numbers_and_encoded_forms_are_hidden_too():
    forms = secret_forms([918273645, "p@ss word"])
    assert {"918273645", "p@ss word", "cEBzcyB3b3Jk", "704073732077 6f7264".replace(" ", ""), "p%40ss%20word"} <= set(forms)
    assert mask({"pin": 918273645, "f": 918273645.0, "other": 5, "flag": True}, forms) == {"pin": SENSITIVE, "f": SENSITIVE, "other": 5, "flag": True}
    assert is_digest(digest_secrets({"pin": 918273645}, forms)["pin"])
    assert mask("dXNlcjpwQHNzIHdvcmQ= cEBzcyB3b3Jk", forms) == SENSITIVE


def test_a_secret_of_under_four_characters_is_hidden_as_a_whole_value_never_inside_a_text():
    """Replacing a one-letter secret everywhere turned every "a" of a log into "(sensitive)"; such a
    secret is now hidden (and digested) where a value is exactly it, and left in free text."""
    assert mask({"pin": "a", "name": "banana", "n": 7}, ["a", "7"]) == {"pin": SENSITIVE, "name": "banana", "n": SENSITIVE}
    assert is_digest(digest_secrets({"pin": "a"}, ["a"])["pin"]) and digest_secrets({"x": "banana"}, ["a"]) == {"x": "banana"}
    assert mask({"banana": 1}, ["a"]) == {"banana": 1}  # nor in a key
    assert redact("a banana", ["a", "ab"]) == "a banana"
    redactor = Redactor(["a", "four"])
    assert redactor.feed(b"a banana, four") + redactor.flush() == f"a banana, {SENSITIVE}".encode()


def test_a_secret_inside_a_longer_one_never_leaves_part_of_the_longer_shown():
    """Texts were redacted of secrets in the order they became known: the user name "svc-app" went
    first and left "(sensitive)-Pa55-word" of the password "svc-app-Pa55-word" in an error."""
    secrets = secret_forms(["svc-app", "svc-app-Pa55-word"])
    assert redact("login svc-app-Pa55-word refused", secrets) == f"login {SENSITIVE} refused"
    redactor = Redactor(secrets)
    assert redactor.feed(b"login svc-app-Pa55-word refused") + redactor.flush() == f"login {SENSITIVE} refused".encode()
