"""file, templatefile, fileexists (paths from the calling file's folder, reads recorded);
try and can (lazy arguments); toset and tomap."""

from __future__ import annotations

from pathlib import Path

import pytest

from zplan.config import hcl
from zplan.config.expr import StaticError
from zplan.config.values import UNKNOWN, SetValue
from zplan.diags import DiagnosticError, fail


def evaluate(folder: Path, source: str, reads: set | None = None, **names):
    expr = hcl.parse_text(f"v = {source}", str(folder / "main.zp.hcl")).attributes["v"].expr

    def resolve(ref):
        if ref.parts[0] == "var" and ref.parts[1] in names:
            value = names[ref.parts[1]]
            for part in ref.parts[2:]:
                if value is not UNKNOWN and part not in value:
                    raise fail(f'no element "{part}" in {ref}', "", ref.range)  # as the planner's scope does
                value = UNKNOWN if value is UNKNOWN else value[part]
            return value
        raise KeyError(ref)  # undeclared

    return expr.evaluate(resolve, reads)


def failure(folder: Path, source: str, **names) -> str:
    with pytest.raises(DiagnosticError) as info:
        evaluate(folder, source, **names)
    return str(info.value)


def test_file_reads_relative_to_the_calling_file_and_records_the_read(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "query.sql").write_text("select 1\n")
    reads: set = set()
    assert evaluate(tmp_path, 'file("conf/query.sql")', reads) == "select 1\n"
    assert reads == {(tmp_path / "conf" / "query.sql").resolve()}
    assert evaluate(tmp_path, 'fileexists("conf/query.sql")') is True
    assert evaluate(tmp_path, 'fileexists("conf/other.sql")') is False


def test_file_errors_name_the_calling_line(tmp_path):
    assert 'main.zp.hcl:1:5: error: file(): no file "nope.txt"' in failure(tmp_path, 'file("nope.txt")')
    (tmp_path / "d").mkdir()
    assert '"d" is a folder, not a file' in failure(tmp_path, 'fileexists("d")')
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    assert "bin is not UTF-8 text" in failure(tmp_path, 'file("bin")')


def test_templatefile_renders_with_only_its_vars(tmp_path):
    (tmp_path / "train.tpl").write_text("model ${name}\n%{ for l in layers ~}\n- ${l}\n%{ endfor ~}\nlr=${cfg.lr}\n")
    reads: set = set()
    text = evaluate(tmp_path, 'templatefile("train.tpl", { name = var.n, layers = [8, 4], cfg = { lr = 0.5 } })', reads, n="mlp")
    assert text == "model mlp\n- 8\n- 4\nlr=0.5\n"
    assert reads == {(tmp_path / "train.tpl").resolve()}
    (tmp_path / "one.tpl").write_text("${n}")
    assert evaluate(tmp_path, 'templatefile("one.tpl", { n = 3 })') == "3"
    assert evaluate(tmp_path, 'templatefile("one.tpl", { n = var.later })', later=UNKNOWN) is UNKNOWN


def test_templatefile_errors_point_into_the_template_and_at_the_call(tmp_path):
    (tmp_path / "t.tpl").write_text("line one\nhello ${who}\n")
    message = failure(tmp_path, 'templatefile("t.tpl", { name = "x" })')
    assert "t.tpl:2:9: error: the template refers to \"who\", which its vars do not hold" in message
    assert "templatefile() at" in message and "main.zp.hcl:1:5" in message
    (tmp_path / "bad.tpl").write_text("ok\n%{ if true }never closed\n")
    assert "bad.tpl:2:" in failure(tmp_path, 'templatefile("bad.tpl", {})')
    assert "vars key \"1x\"" in failure(tmp_path, 'templatefile("t.tpl", { "1x" = 1 })')


def test_templatefile_inside_a_template_is_an_error_not_endless(tmp_path):
    (tmp_path / "self.tpl").write_text('x${templatefile("self.tpl", {})}')
    message = failure(tmp_path, 'templatefile("self.tpl", {})')
    assert "self.tpl:1:4: error: templatefile(): cannot be called inside a template, as in Terraform" in message
    assert "nested too deeply" not in message
    (tmp_path / "one.tpl").write_text("${n}")
    assert evaluate(tmp_path, '"${templatefile("one.tpl", { n = 1 })}${templatefile("one.tpl", { n = 2 })}"') == "12"


def test_try_returns_the_first_argument_that_evaluates(tmp_path):
    cfg = {"name": "m"}
    assert evaluate(tmp_path, 'try(var.cfg.size, var.cfg.name, "none")', cfg=cfg) == "m"
    assert evaluate(tmp_path, 'try(tonumber("x"), 5)') == 5
    assert evaluate(tmp_path, "try(var.later, 1)", later=UNKNOWN) is UNKNOWN
    assert "try(): no argument could be evaluated" in failure(tmp_path, 'try(tonumber("x"), [1][3])')


def test_can_tells_whether_an_expression_evaluates(tmp_path):
    assert evaluate(tmp_path, 'can(tonumber("12"))') is True
    assert evaluate(tmp_path, "can(var.cfg.size)", cfg={"name": "m"}) is False
    assert evaluate(tmp_path, "can(var.later)", later=UNKNOWN) is UNKNOWN


def test_try_and_can_do_not_hide_mistakes_in_the_configuration(tmp_path):
    for source in ('try(nosuch(1), 2)', "can(nosuch(1))", "try(var.undeclared, 2)"):
        with pytest.raises(StaticError):
            evaluate(tmp_path, source)


def test_toset_and_tomap(tmp_path):
    result = evaluate(tmp_path, 'toset(["b", "a", "b"])')
    assert result == ["a", "b"] and isinstance(result, SetValue)
    assert evaluate(tmp_path, 'toset([2, "a"])') == ["2", "a"]
    assert evaluate(tmp_path, 'tomap({ a = 1, b = "x" })') == {"a": "1", "b": "x"}
    assert "all elements must have the same type" in failure(tmp_path, 'tomap({ a = [1], b = "x" })')
    assert evaluate(tmp_path, 'keys(tomap({ b = 1, a = 2 }))') == ["a", "b"]


def test_text_decoded_from_json_or_a_params_file_is_valid_unicode(tmp_path):
    # JSON and YAML may spell a character as two surrogate escapes, or one alone, which UTF-8
    # (state, cache keys) cannot hold: a pair is its character, a lone one U+FFFD, as Terraform's jsondecode
    (tmp_path / "p.yaml").write_text(r'x: ["\ud83d\ude00", "\ud800"]' + "\n")
    (tmp_path / "p.json").write_text(r'{"\udc00": "\ud83d\ude00"}')
    assert evaluate(tmp_path, 'params_file("p.yaml").x') == ["\U0001F600", "\ufffd"]
    assert evaluate(tmp_path, 'params_file("p.json")') == {"\ufffd": "\U0001F600"}
    assert evaluate(tmp_path, r'jsondecode("[\"\\ud800x\", \"\\ud83d\\ude00\"]")') == ["\ufffdx", "\U0001F600"]
