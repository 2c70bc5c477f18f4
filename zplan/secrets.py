"""Every way a secret is kept out of sight, in one place.

Two kinds of masking, for two audiences:
- for people (plans, state views, logs, error messages): a secret becomes "(sensitive)", and a
  human view prints a value hidden that way as ``<sensitive>``, unquoted, as Terraform does
  (``shown_for_people``; JSON keeps the "(sensitive)" string);
- for state and cache keys: a secret becomes "(sensitive:DIGEST)", a slow hash that still
  changes when the secret does, so a new password reruns the steps that use it.

``secrets`` are the text forms of sensitive variables' values (``secret_forms``: every
string and number inside them, and the base64, hex and URL-encoded spellings of each);
an attribute a schema marks sensitive, one whose value was computed from a sensitive
value, or a value sealed at rest, is hidden by name or by shape.

Every masking path goes through this module: ``mask`` / ``mask_attributes`` for values,
``redact`` / ``Redactor`` for free text and logs, ``digest_secrets`` for state and keys,
``output_value`` for what `zplan output` may print.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable

SENSITIVE = "(sensitive)"
SHOWN_SENSITIVE = "<sensitive>"  # a hidden value in a human view, never quoted (Terraform's spelling)
DIGEST_PREFIX = "(sensitive:"
SEALED_MARK = "$sealed"  # a value sealed at rest is stored as {"$sealed": "<token>"}

_NO_UNKNOWN = object()


@dataclass(frozen=True)
class Sensitive:
    """A value marked sensitive, as a resource lookup hands it to expression evaluation
    (``zplan.config.scope``): whatever is computed from it is sensitive too."""

    value: Any


# A secret shorter than this is found only as a whole value, never inside a text: hiding every "a"
# of a log or a path would mangle it, and a text that short is no secret to be read out of one.
MIN_IN_TEXT = 4


def _holds_secret(text: str, secrets: Iterable[str]) -> bool:
    return any(s and (s in text if len(s) >= MIN_IN_TEXT else s == text) for s in secrets)


def _in_text(secrets: Iterable[str]) -> list[str]:
    """The secrets free text is redacted of (see MIN_IN_TEXT), longest first: a secret inside
    another ("admin" in "admin-pw-9") replaced first would leave the rest of the longer one shown."""
    return sorted({s for s in secrets if len(s) >= MIN_IN_TEXT}, key=len, reverse=True)


def _number_text(value: Any) -> str | None:
    """A number as HCL writes it (918273645, 1.5); None for anything else (a bool is no number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _leaves(value: Any, public_keys: frozenset = frozenset()) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key not in public_keys:  # a map's keys are its data too
                yield key
            yield from _leaves(item, public_keys)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item, public_keys)
    elif _number_text(value) is not None:
        yield _number_text(value)


MIN_ENCODED = 6  # the encodings of shorter values are too short to tell from ordinary text


def secret_forms(values: Iterable[Any], public_keys: Iterable[str] = ()) -> list[str]:
    """Every text a sensitive value may be seen as: its strings, numbers and map keys (but
    ``public_keys``, the attribute names an object type declares), and the base64, hex and
    URL-encoded spellings of each (a step or a URL may encode a password)."""
    forms: list[str] = []
    public = frozenset(public_keys)
    for value in values:
        for text in _leaves(value, public):
            if text:
                for form in (text, *_escaped(text), *_encoded(text)):
                    if form not in forms:
                        forms.append(form)
    return forms


def _escaped(text: str) -> tuple[str, ...]:
    """How a text holding a backslash, a quote or a letter outside ASCII is printed inside a dict
    (``repr``) or JSON: a step printing its params shows the secret so."""
    if text.isascii() and text.isprintable() and "\\" not in text and '"' not in text and "'" not in text:
        return ()
    import json

    return repr(text)[1:-1], json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]


def _encoded(text: str) -> tuple[str, ...]:
    if len(text) < MIN_ENCODED:
        return ()
    import base64  # here: a project without sensitive values never needs it
    from urllib.parse import quote

    raw = text.encode()
    return (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            base64.b64encode(raw).decode().rstrip("="), raw.hex(), quote(text, safe=""), quote(text))


def mask(value: Any, secrets: list[str], unknown: object = _NO_UNKNOWN) -> Any:
    """For people: every string or number holding a secret, and every sealed value, becomes
    "(sensitive)"; ``unknown`` (a value known only after apply) becomes None. Tuples come back as lists."""
    if value is unknown:
        return None
    if is_sealed(value):
        return SENSITIVE
    if isinstance(value, str):
        return SENSITIVE if _holds_secret(value, secrets) else value
    if _number_text(value) is not None:
        return SENSITIVE if _number_text(value) in secrets else value
    if isinstance(value, dict):
        if _key_holds_secret(value, secrets):
            return SENSITIVE
        return {k: mask(v, secrets, unknown) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v, secrets, unknown) for v in value]
    return value


def _key_holds_secret(value: dict, secrets: Iterable[str]) -> bool:
    """Whether a key of ``value`` holds a secret (a map built from a sensitive one's keys): the map is
    then hidden whole, as Terraform hides a sensitive map, since a key cannot be shown in its place."""
    return any(isinstance(k, str) and _holds_secret(k, secrets) for k in value)


def hide_all(value: Any) -> Any:
    """Every value in ``value`` (its keys kept) as "(sensitive)": what a step given a secret
    reports about itself, which zplan cannot tell free of it."""
    if isinstance(value, dict):
        return {k: hide_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [hide_all(v) for v in value]
    return value if value is None else SENSITIVE


def holds_secret(value: Any, secrets: list[str]) -> bool:
    """Whether ``mask`` would hide something in ``value``: a string holding a secret, a number spelling one."""
    if not secrets:
        return False  # (a project without sensitive values: every step's outputs would be walked for nothing)
    if isinstance(value, str):
        return _holds_secret(value, secrets)
    if _number_text(value) is not None:
        return _number_text(value) in secrets
    if isinstance(value, dict):
        return _key_holds_secret(value, secrets) or any(holds_secret(v, secrets) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_secret(v, secrets) for v in value)
    return False


def shown_output(value: Any, sensitive: bool) -> Any:
    """What `zplan output NAME` prints: a sensitive output stays "(sensitive)" unless it was
    unsealed on request (then its value is given)."""
    return SENSITIVE if sensitive and value is None else value


# the JSON string "(sensitive)" as a whole value: its opening quote is never escaped, which one
# inside another string ("say \"(sensitive)\"") always is
_QUOTED_PLACEHOLDER = re.compile(r'(?<!\\)"\(sensitive\)"')


def shown_for_people(text: str) -> str:
    """A value's JSON text as a human view prints it: each value hidden as "(sensitive)" is
    ``<sensitive>``, without quotes, so it cannot be read as a string the value holds."""
    return _QUOTED_PLACEHOLDER.sub(SHOWN_SENSITIVE, text) if SENSITIVE in text else text


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and SEALED_MARK in value


def mask_attributes(
    attrs: dict, sensitive: Iterable[str], secrets: list[str] = (), unknown: object = _NO_UNKNOWN, hide_null: bool = False
) -> dict:
    """For people: resource attributes with the sensitive ones (by schema, or sealed) hidden.
    A sensitive attribute that is null stays null unless ``hide_null``."""
    names = set(sensitive)

    def one(k: str, v: Any) -> Any:
        if (k in names and (v is not None or hide_null)) or is_sealed(v):
            return SENSITIVE
        return mask(v, secrets, unknown)

    return {k: one(k, v) for k, v in attrs.items()}


def redact(text: str | None, secrets: list[str]) -> str | None:
    """For people: each secret inside a free text (an error, a traceback) becomes "(sensitive)"."""
    for secret in _in_text(secrets):
        if text:
            text = text.replace(secret, SENSITIVE)
    return text


class Redactor:
    """Redacts a byte stream as it is written (a step's stdout and stderr), so a step killed
    half-way leaves no secret in its log. Only a tail that could still be the start of a
    secret is held back until more bytes come (or ``flush``)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = [s.encode() for s in _in_text(secrets)]
        self.pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self.pending + chunk
        for secret in self.secrets:
            if secret in data:
                data = data.replace(secret, SENSITIVE.encode())
        hold = self._started_secret(data)
        self.pending = data[len(data) - hold:] if hold else b""
        return data[: len(data) - hold]

    def flush(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest

    def _started_secret(self, data: bytes) -> int:
        """The length of the longest tail of ``data`` that begins some secret."""
        longest = 0
        for secret in self.secrets:
            for size in range(min(len(secret) - 1, len(data)), longest, -1):
                if secret.startswith(data[-size:]):
                    longest = size
                    break
        return longest


@functools.lru_cache(maxsize=64)
def _slow_digest(value: str) -> str:
    """A digest that stands for a secret in state and cache keys.

    Deterministic (two checkouts sharing a cache must agree) but deliberately slow
    (PBKDF2, 200,000 rounds), so a weak password cannot be recovered by trying
    guesses against what state stores.
    """
    import hashlib

    return hashlib.pbkdf2_hmac("sha256", value.encode(), b"zplan sensitive value", 200_000).hex()[:32]


def digest_secrets(value: Any, secrets: list[str]) -> Any:
    """For state and cache keys: every string holding a secret becomes a slow hash of it."""
    if not secrets:
        return value
    if isinstance(value, str):
        return f"{DIGEST_PREFIX}{_slow_digest(value)})" if _holds_secret(value, secrets) else value
    if _number_text(value) is not None:
        return f"{DIGEST_PREFIX}{_slow_digest(_number_text(value))})" if _number_text(value) in secrets else value
    if isinstance(value, dict):
        if _key_holds_secret(value, secrets):  # digested whole: a new key or value still changes it
            import json

            return f"{DIGEST_PREFIX}{_slow_digest(json.dumps(value, sort_keys=True, default=str))})"
        return {k: digest_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [digest_secrets(v, secrets) for v in value]
    return value


def digest_record(record: dict, secrets: list[str]) -> dict:
    """``digest_secrets`` of each value of a record whose names are public (a step's params, its
    keyword arguments): a name never turns the whole record into one digest."""
    if not secrets:  # (every step's params, in every plan)
        return dict(record)
    return {k: digest_secrets(v, secrets) for k, v in record.items()}


def mask_record(record: dict, secrets: list[str]) -> dict:
    """``mask`` of each value of a record a step wrote (its logged metadata), which stays a record:
    the entries whose names hold a secret (a sensitive map's keys) become one "(sensitive)" entry."""
    shown = {k: mask(v, secrets) for k, v in record.items() if not (isinstance(k, str) and _holds_secret(k, secrets))}
    return shown if len(shown) == len(record) else {**shown, SENSITIVE: SENSITIVE}


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(DIGEST_PREFIX)


def hide_digests(value: Any) -> Any:
    """For people: every recorded digest of a secret becomes "(sensitive)". A digest is slow
    to reverse, not impossible: a weak password could be guessed against it offline."""
    if is_digest(value):
        return SENSITIVE
    if isinstance(value, dict):
        return {k: hide_digests(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hide_digests(v) for v in value]
    return value
