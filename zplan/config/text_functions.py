"""HCL's string, encoding, hashing and path-text functions beyond the basic ones: regex,
regexall, title, chomp, trim, strrev, strcontains, indent, formatlist, base64encode,
base64decode, md5, sha1, sha256, sha512, basename, dirname, yamldecode, csvdecode.

Each is a pure function of its arguments: a plan computes the same value from the same
configuration, so a step param built with them is keyed as any other. (``timestamp()`` and
``uuid()`` are left out on purpose: a param holding one would rerun its step on every plan.)
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from zplan.config.function_args import FunctionError, as_string, as_whole, characters, register
from zplan.config.values import valid_text


def _regex(pattern: Any) -> re.Pattern:
    text = as_string(pattern, "pattern")
    try:
        return re.compile(text)
    except re.error as exc:
        raise FunctionError(f"invalid regular expression {text!r}: {exc}") from None


def _match_value(match: re.Match) -> Any:
    """What Terraform's regex gives for one match: the matched text when the pattern has no
    groups, a map of the named groups when it names them, else the list of groups."""
    if match.re.groupindex:
        return {name: match.group(name) for name in match.re.groupindex}
    if match.re.groups:
        return list(match.groups())
    return match.group(0)


@register("regex(pattern, string)", 2)
def _regex_fn(pattern: Any, s: Any) -> Any:
    match = _regex(pattern).search(as_string(s))
    if match is None:
        raise FunctionError("the pattern does not match the string")
    return _match_value(match)


@register("regexall(pattern, string)", 2)
def _regexall(pattern: Any, s: Any) -> list:
    return [_match_value(m) for m in _regex(pattern).finditer(as_string(s))]


def _separator(char: str) -> bool:
    """Go's strings.Title rule: ASCII letters, digits and "_" continue a word; other ASCII and
    spaces end it; any other letter, digit or mark continues it."""
    if char.isascii():
        return not (char.isalnum() or char == "_")
    return char.isspace()


@register("title(string)", 1)
def _title(s: Any) -> str:
    """The first letter of each word in upper case, the rest as written (Python's str.title would
    lower them: "hELLO" stays "HELLO", as in Terraform)."""
    out, previous = [], " "
    for char in as_string(s):
        out.append(char.upper() if _separator(previous) else char)
        previous = char
    return "".join(out)


@register("chomp(string)", 1)
def _chomp(s: Any) -> str:
    return re.sub(r"(?:\r\n|\r|\n)+\Z", "", as_string(s))


@register("trim(string, characters)", 2)
def _trim(s: Any, chars: Any) -> str:
    return as_string(s).strip(as_string(chars, "characters"))


@register("strrev(string)", 1)
def _strrev(s: Any) -> str:
    return "".join(reversed(characters(as_string(s))))  # an accented letter or an emoji stays whole


@register("strcontains(string, substr)", 2)
def _strcontains(s: Any, sub: Any) -> bool:
    return as_string(sub, "substr") in as_string(s)


@register("indent(spaces, string)", 2)
def _indent(spaces: Any, s: Any) -> str:
    """Every line but the first indented by ``spaces`` spaces (for a block inside a template)."""
    n = as_whole(spaces, "spaces")
    if n < 0:
        raise FunctionError("spaces must not be negative")
    return as_string(s).replace("\n", "\n" + " " * n)


@register("formatlist(spec, values...)", 1, None)
def _formatlist(spec: Any, *values: Any) -> list[str]:
    """format() once per element: list arguments are walked together (all the same length),
    the others repeated."""
    from zplan.config.functions import _format

    lengths = {len(v) for v in values if isinstance(v, (list, tuple))}
    if len(lengths) > 1:
        raise FunctionError(f"the list arguments have different lengths: {', '.join(map(str, sorted(lengths)))}", quotes_values=False)
    count = lengths.pop() if lengths else 1
    return [_format(spec, *[v[i] if isinstance(v, (list, tuple)) else v for v in values]) for i in range(count)]


@register("base64encode(string)", 1)
def _base64encode(s: Any) -> str:
    import base64  # (this module's rarer imports wait for a call: a plan that calls format() should not pay them)

    return base64.b64encode(as_string(s).encode("utf-8")).decode("ascii")


@register("base64decode(string)", 1)
def _base64decode(s: Any) -> str:
    import base64
    import binascii

    try:
        decoded = base64.b64decode(as_string(s), validate=True)
    except (binascii.Error, ValueError):
        raise FunctionError("the argument is not valid base64", quotes_values=False) from None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise FunctionError("the decoded bytes are not UTF-8 text: HCL strings hold text only", quotes_values=False) from None
    if not valid_text(text):
        raise FunctionError("the decoded text holds a character HCL strings cannot", quotes_values=False)
    return text


def _hasher(name: str):
    def digest(s: Any) -> str:
        import hashlib

        return hashlib.new(name, as_string(s).encode("utf-8")).hexdigest()

    return digest


for _name in ("md5", "sha1", "sha256", "sha512"):
    register(f"{_name}(string)", 1)(_hasher(_name))


@register("basename(path)", 1)
def _basename(p: Any) -> str:
    """The last element of a path, as Terraform (Go's filepath.Base) gives it: trailing slashes
    ignored, "." for an empty path, "/" for the root."""
    text = as_string(p, "path")
    stripped = text.rstrip("/")
    if not stripped:
        return "/" if text else "."
    return stripped.rsplit("/", 1)[-1]


@register("dirname(path)", 1)
def _dirname(p: Any) -> str:
    """All but the last element of a path, cleaned ("." when there is none), as Go's filepath.Dir."""
    text = as_string(p, "path")
    head = text[: text.rfind("/") + 1]
    return posixpath.normpath(head) if head else "."


@register("yamldecode(string)", 1)
def _yamldecode(s: Any) -> Any:
    """A YAML document as HCL values, read as a params file is (a key set twice is an error, a date is
    its ISO text, numbers must be finite)."""
    from zplan.config.params_files import ParamsFileError, yaml_text

    try:
        return yaml_text(as_string(s), "the YAML text")
    except ParamsFileError as exc:
        raise FunctionError(exc.summary) from None


@register("csvdecode(string)", 1)
def _csvdecode(s: Any) -> list[dict[str, str]]:
    """CSV text with a header row as a list of maps, one per row, every value a string."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(as_string(s)), strict=True))
    if not rows:
        return []
    header, body = rows[0], [r for r in rows[1:] if r]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise FunctionError(f"row {number} has {len(row)} fields, the header {len(header)}", quotes_values=False)
    return [dict(zip(header, row)) for row in body]
