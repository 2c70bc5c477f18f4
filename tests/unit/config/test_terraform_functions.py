"""The set, text, encoding and number functions Terraform users reach for, with Terraform's results."""

from __future__ import annotations

import pytest

from tests.unit.config.test_expr import error, value
from zplan.config.values import SetValue


@pytest.mark.parametrize(
    "source, expected",
    [
        ('setproduct(["a", "b"], [1, 2])', [["a", 1], ["a", 2], ["b", 1], ["b", 2]]),
        ("setproduct([0.1, 0.01], [2, 3], [true])", [[0.1, 2, True], [0.1, 3, True], [0.01, 2, True], [0.01, 3, True]]),
        ('setproduct(["a"], [])', []),
        ('setunion(["a"], ["b", "a"])', ["a", "b"]),
        ("setintersection([1, 2, 3], [2, 3, 4], [3, 2])", [2, 3]),
        ('setsubtract(["a", "b", "c"], ["a", "c"])', ["b"]),
        ('tolist(toset(["b", "a"]))', ["a", "b"]),
        ('index(["a", "b"], "b")', 1),
        ("one([])", None),
        ("one([3])", 3),
        ("alltrue([])", True),
        ('alltrue([true, "true"])', True),
        ('anytrue([false, "true"])', True),
        ("anytrue([])", False),
        ("chunklist([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
        ("chunklist([1, 2], 0)", [[1, 2]]),
        ("coalescelist([], [1], [2])", [1]),
        ('transpose({ a = ["1", "2"], b = ["2"] })', {"1": ["a"], "2": ["a", "b"]}),
        ('regex("[a-z]+", "53abc99")', "abc"),
        (r'regex("(\\d+)-(\\d+)", "10-20")', ["10", "20"]),
        (r'regex("(?P<year>\\d{4})-(?P<month>\\d{2})", "on 2024-06")', {"year": "2024", "month": "06"}),
        ('regexall("[a-z]+", "1a2bb3")', ["a", "bb"]),
        ('regexall("x", "abc")', []),
        ('title("hello wORLD-x_y")', "Hello WORLD-X_y"),
        (r'chomp("a\n\r\n")', "a"),
        ('trim("?!hello?!", "!?")', "hello"),
        ('strrev("abc")', "cba"),
        ('strcontains("hello", "ell")', True),
        (r'indent(2, "a\nb\nc")', "a\n  b\n  c"),
        ('formatlist("%s=%d", ["a", "b"], [1, 2])', ["a=1", "b=2"]),
        ('formatlist("run-%s", ["a", "b"])', ["run-a", "run-b"]),
        ('base64encode("hé")', "aMOp"),
        ('base64decode("aMOp")', "hé"),
        ('md5("a")', "0cc175b9c0f1b6a831c399e269772661"),
        ('sha1("a")', "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"),
        ('sha256("a")', "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
        ('basename("data/raw/train.csv")', "train.csv"),
        ('basename("data/")', "data"),
        ('basename("")', "."),
        ('dirname("data/raw/train.csv")', "data/raw"),
        ('dirname("train.csv")', "."),
        ('dirname("/train.csv")', "/"),
        (r'yamldecode("lr: 0.1\nlayers: [64, 32]\nday: 2024-06-01")', {"lr": 0.1, "layers": [64, 32], "day": "2024-06-01"}),
        ('yamldecode("")', None),
        # YAML 1.2, as Terraform and DVC read it (not 1.1's yes/on booleans, octal 0755, 1:30 as 90, 1e-5 as text)
        (r'yamldecode("a: yes\noff: on\nlr: 1e-5\nmode: 0755\nt: 1:30\nn: 1_000\nok: True")',
         {"a": "yes", "off": "on", "lr": 1e-05, "mode": 755, "t": "1:30", "n": 1000, "ok": True}),
        (r'csvdecode("name,lr\na,0.1\nb,0.2\n")', [{"name": "a", "lr": "0.1"}, {"name": "b", "lr": "0.2"}]),
        ("pow(2, 10)", 1024),
        ("pow(4, 0.5)", 2.0),
        ("log(8, 2)", 3.0),
        ("signum(-3)", -1),
        ("signum(0)", 0),
        ('parseint("ff", 16)', 255),
        ('parseint("FF", 16)', 255),
        ('parseint("-101", 2)', -5),
        ('parseint("zZ", 62)', 2231),
    ],
)
def test_function(source, expected):
    result = value(source)
    assert result == expected and type(result) in (type(expected), SetValue)


def test_setproduct_of_sets_is_a_set_and_makes_a_sweep():
    grid = value('{ for p in setproduct(toset([0.1, 0.01]), toset(["rbf", "linear"])) : "${p[1]}-${p[0]}" => { c = p[0], kernel = p[1] } }')
    assert grid == {
        "linear-0.01": {"c": 0.01, "kernel": "linear"}, "rbf-0.01": {"c": 0.01, "kernel": "rbf"},
        "linear-0.1": {"c": 0.1, "kernel": "linear"}, "rbf-0.1": {"c": 0.1, "kernel": "rbf"},
    }
    assert isinstance(value('setproduct(toset(["a"]), toset([1]))'), SetValue)


@pytest.mark.parametrize(
    "source, summary",
    [
        ("setproduct([1])", "setproduct(): expected at least 2 arguments, got 1"),
        ("one([1, 2])", "one(): the list must have no more than one element, it has 2"),
        ('regex("x", "abc")', "regex(): the pattern does not match the string"),
        ('regex("(", "abc")', "regex(): invalid regular expression"),
        ('base64decode("!!")', "base64decode(): the argument is not valid base64"),
        ('base64decode("/w==")', "base64decode(): the decoded bytes are not UTF-8 text"),
        ('parseint("0x1f", 16)', 'parseint(): "0x1f" is not a number in base 16'),
        ('parseint("12", 1)', "parseint(): base must be between 2 and 62"),
        (r'yamldecode("a: 1\na: 2")', "yamldecode(): the YAML text is not valid YAML at line 2: duplicate key"),
        (r'csvdecode("a,b\n1")', "csvdecode(): row 2 has 1 fields, the header 2"),
        ("index([1], 2)", "index(): the value is not in the list"),
        ("log(-1, 2)", "log(): the number and the base must be positive"),
        ("alltrue([1])", "alltrue(): each element must be true or false, got number"),
        ("chunklist([1], -1)", "chunklist(): size must not be negative"),
        ('formatlist("%s %s", ["a"], ["b", "c"])', "formatlist(): the list arguments have different lengths: 1, 2"),
    ],
)
def test_function_errors(source, summary):
    assert error(source).summary.startswith(summary)
