"""Variable values from every source: typed, converted and validated, with clear errors."""

from __future__ import annotations

import json

import pytest

from zplan.config import loader, variables
from zplan.diags import DiagnosticError

CONFIG = """
variable "cfg" {
  type = object({
    name   = string
    layers = list(number)
    lr     = optional(number, 0.1)
  })
  default = { name = "m", layers = [8, 4] }

  validation {
    condition     = length(var.cfg.layers) > 0
    error_message = "cfg.layers must not be empty"
  }
  validation {
    condition     = length([for n in var.cfg.layers : n if n <= 0]) == 0
    error_message = "every layer needs at least one unit"
  }
}

variable "epochs" {
  type    = number
  default = 3

  validation {
    condition     = var.epochs >= 1 && var.epochs <= 100
    error_message = "epochs must be between 1 and 100, got ${var.epochs}"
  }
}

variable "tags" {
  type    = set(string)
  default = []
}
"""


@pytest.fixture
def config(tmp_path):
    (tmp_path / "main.zp.hcl").write_text(CONFIG)
    return loader.load(tmp_path)


def resolve(config, *cli_vars, environ=None, var_files=()):
    """``cli_vars``: -var texts and -var-file Paths, in command-line order (``var_files`` come after them)."""
    return variables.resolve(config, [*cli_vars, *var_files], environ=environ or {})


def errors(config, *cli_vars: str, **kw) -> list[str]:
    with pytest.raises(DiagnosticError) as info:
        resolve(config, *cli_vars, **kw)
    return [str(d) for d in info.value.diagnostics]


def test_defaults_are_converted_and_get_optional_attributes(config):
    values = resolve(config)
    assert values == {"cfg": {"name": "m", "layers": [8, 4], "lr": 0.1}, "epochs": 3, "tags": []}


def test_text_from_the_command_line_and_the_environment_is_read_by_the_type(config):
    values = resolve(config, "epochs=7", 'cfg={ name = "big", layers = ["16", 8], unused = 1 }', environ={"ZPLAN_VAR_tags": '["b", "a", "b"]'})
    assert values["epochs"] == 7
    assert values["cfg"] == {"name": "big", "layers": [16, 8], "lr": 0.1}
    assert values["tags"] == ["a", "b"]


def test_a_value_of_the_wrong_shape_names_the_path_inside_it(config):
    [message] = errors(config, 'cfg={ name = "x", layers = [1, "wide"] }')
    assert 'invalid value for variable "cfg" (from -var cfg): var.cfg.layers[1]: a number is required, got "wide"' in message
    assert "main.zp.hcl:2" in message and "object({ name = string, layers = list(number), lr = optional(number, 0.1) })" in message


def test_a_failing_validation_names_the_variable_its_line_and_the_message(config):
    [message] = errors(config, "epochs=0")
    assert 'invalid value for variable "epochs" (from -var epochs): epochs must be between 1 and 100, got 0' in message
    assert "main.zp.hcl:24:3: error" in message  # the validation block
    assert 'variable "epochs" is declared at line 20' in message


def test_every_failing_validation_is_reported(config):
    found = errors(config, "cfg={ name = \"x\", layers = [0] }", "epochs=500")
    assert any("every layer needs at least one unit" in m for m in found)
    assert any("epochs must be between 1 and 100, got 500" in m for m in found)


def test_values_from_vars_files_are_checked_too(config, tmp_path):
    (tmp_path / "prod.zpvars").write_text('epochs = "12"\ncfg = { name = "p", layers = [] }\n')
    [message] = errors(config, var_files=[tmp_path / "prod.zpvars"])
    assert 'variable "cfg" (from prod.zpvars:2): cfg.layers must not be empty' in message
    (tmp_path / "prod.zpvars").write_text('epochs = "12"\n')
    assert resolve(config, var_files=[tmp_path / "prod.zpvars"])["epochs"] == 12


def test_a_vars_file_is_named_by_its_path_in_the_project(config, tmp_path):
    # it was named by its file name alone: envs/prod/zplan.zpvars read as the project's own zplan.zpvars
    (tmp_path / "envs" / "prod").mkdir(parents=True)
    (tmp_path / "envs" / "prod" / "zplan.zpvars").write_text('epochs = "many"\n')
    (tmp_path / "envs" / "prod" / "params.yaml").write_text("epochs: 0\n")
    [message] = errors(config, var_files=[tmp_path / "envs" / "prod" / "zplan.zpvars"])
    assert 'invalid value for variable "epochs" (from envs/prod/zplan.zpvars:1)' in message
    [message] = errors(config, var_files=[tmp_path / "envs" / "prod" / "params.yaml"])
    assert 'invalid value for variable "epochs" (from envs/prod/params.yaml, a params file)' in message


@pytest.mark.parametrize(("name", "text", "problem"), [
    ("p.yaml", "epochs: 3\nepochs: 4\n", "p.yaml:2 is not valid YAML: duplicate key 'epochs'"),
    ("p.yaml", "cfg:\n  name: a\n  layers: [1]\n  name: b\n", "p.yaml:4 is not valid YAML: duplicate key 'name'"),
    ("p.json", '{"epochs": 3, "epochs": 4}', "p.json is not valid JSON: duplicate key 'epochs'"),
])
def test_a_params_file_that_sets_a_key_twice_is_an_error(config, tmp_path, name, text, problem):
    # the last one was taken without a word (DVC's YAML reader refuses it too)
    (tmp_path / name).write_text(text)
    [message] = errors(config, var_files=[tmp_path / name])
    assert problem in message


def test_a_yaml_merge_key_may_still_be_set_again(config, tmp_path):
    (tmp_path / "p.yaml").write_text("base: &b\n  name: a\n  layers: [1]\ncfg:\n  <<: *b\n  name: b\n")
    assert resolve(config, var_files=[tmp_path / "p.yaml"])["cfg"] == {"name": "b", "layers": [1], "lr": 0.1}


def test_the_later_of_var_and_var_file_wins_as_given_on_the_command_line(config, tmp_path):
    # -var won over -var-file wherever it was written; Terraform takes both in command-line order
    (tmp_path / "a.zpvars").write_text("epochs = 5\n")
    (tmp_path / "b.zpvars").write_text("epochs = 6\n")
    (tmp_path / "zplan.zpvars").write_text("epochs = 4\n")
    assert resolve(config, "epochs=2", tmp_path / "a.zpvars")["epochs"] == 5
    assert resolve(config, tmp_path / "a.zpvars", "epochs=2")["epochs"] == 2
    assert resolve(config, "epochs=2", tmp_path / "b.zpvars", tmp_path / "a.zpvars")["epochs"] == 5
    assert resolve(config, tmp_path / "a.zpvars", "epochs=2", "epochs=3")["epochs"] == 3
    assert resolve(config, environ={"ZPLAN_VAR_epochs": "8"})["epochs"] == 4  # zplan.zpvars over the environment
    [message] = errors(config, tmp_path / "a.zpvars", "epochs=0")
    assert '(from -var epochs)' in message  # the error names the source that won


def test_a_condition_may_refer_only_to_its_own_variable(tmp_path):
    (tmp_path / "main.zp.hcl").write_text(
        'variable "a" { default = 1 }\n'
        'variable "b" {\n'
        "  default = 2\n"
        "  validation {\n"
        "    condition     = var.b > var.a\n"
        '    error_message = "b must exceed a"\n'
        "  }\n"
        "}\n"
    )
    with pytest.raises(DiagnosticError) as info:
        loader.load(tmp_path)
    [diag] = info.value.diagnostics
    assert diag.summary == 'the validation of variable "b" refers to "var.a"' and diag.range.line == 5


def test_a_validation_needs_both_attributes_and_a_bool_condition(tmp_path):
    (tmp_path / "main.zp.hcl").write_text('variable "a" {\n  default = 1\n  validation {\n    condition = true\n  }\n}\n')
    with pytest.raises(DiagnosticError) as info:
        loader.load(tmp_path)
    assert 'a validation of variable "a" has no error_message' in str(info.value)
    (tmp_path / "main.zp.hcl").write_text('variable "a" {\n  default = 1\n  validation {\n    condition = var.a\n    error_message = "x"\n  }\n}\n')
    [message] = errors(loader.load(tmp_path))
    assert 'the validation condition of variable "a" must be true or false, got 1' in message


def test_a_sensitive_value_is_never_shown_in_an_error(tmp_path):
    (tmp_path / "main.zp.hcl").write_text(
        'variable "token" {\n  type = number\n  sensitive = true\n  default = 1\n'
        '  validation {\n    condition = var.token > 5\n    error_message = "token ${var.token} too small"\n  }\n}\n'
    )
    config = loader.load(tmp_path)
    [message] = errors(config, "token=hunter2")
    assert "hunter2" not in message and "var.token: a number is required" in message
    [message] = errors(config, "token=3")
    assert "token 3" not in message and "token ${var.token} too small" in message


def test_an_error_inside_a_sensitive_map_does_not_name_its_key(tmp_path):
    """The place a value did not fit named the sensitive map's key (`var.db.hunter2key: ...`): the
    keys are secrets too. An object's attribute names, from its type, are still named."""
    (tmp_path / "main.zp.hcl").write_text(
        'variable "db" {\n  type      = map(number)\n  sensitive = true\n}\n'
        'variable "cfg" {\n  type      = object({ port = number })\n  sensitive = true\n}\n')
    config = loader.load(tmp_path)
    messages = errors(config, 'db={ hunter2key = "x" }', 'cfg={ port = "hunter2" }')
    assert not any("hunter2" in m for m in messages), messages
    assert "var.db.(sensitive): a number is required" in messages[0] and "var.cfg.port: a number is required" in messages[1], messages
    (tmp_path / "main.zp.hcl").write_text(  # a default is checked as the configuration loads
        'variable "nested" {\n  type      = map(object({ port = number }))\n  sensitive = true\n  default   = { hunter2key = { port = "x" } }\n}\n')
    with pytest.raises(DiagnosticError) as info:
        loader.load(tmp_path)
    assert "hunter2" not in str(info.value) and "var.nested.(sensitive).port: a number is required" in str(info.value)


@pytest.mark.parametrize("text", ["{ pass = hunter2 }", '{ pass = "a" hunter2 }', '{ pass = "${hunter2}" }', "[hunter2.x]"])
def test_a_sensitive_value_that_does_not_parse_is_not_quoted(tmp_path, text):
    # a secret written without its quotes: the parser's message would quote it
    (tmp_path / "main.zp.hcl").write_text('variable "db" {\n  type      = map(string)\n  sensitive = true\n}\n')
    config = loader.load(tmp_path)
    [message] = errors(config, f"db={text}")
    assert "hunter2" not in message and "cannot read the value from -var db (sensitive value)" in message
    [message] = errors(config, environ={"ZPLAN_VAR_db": text})
    assert "hunter2" not in message and "from environment variable ZPLAN_VAR_db (sensitive value)" in message


@pytest.mark.parametrize("text", ["pw = hunter2", 'pw = "a" hunter2', 'pw = "hunter2', "pw = <<EOT\nhunter2\n", "n = 1\npw = [\n  hunter2]"])
def test_a_sensitive_value_a_vars_file_does_not_parse_is_not_quoted(tmp_path, text):
    """As for -var: a secret written without its quotes in a vars file was quoted by the parser's
    message (`"hunter2" cannot be used here`). A mistake in another variable's line is still told."""
    (tmp_path / "main.zp.hcl").write_text('variable "pw" {\n  sensitive = true\n}\nvariable "n" {\n  default = 0\n}\n')
    config = loader.load(tmp_path)
    (tmp_path / "prod.zpvars").write_text(text + "\n")
    [message] = errors(config, var_files=[tmp_path / "prod.zpvars"])
    assert "hunter2" not in message and 'cannot read the value of "pw" (sensitive value)' in message and "prod.zpvars:" in message
    (tmp_path / "zplan.zpvars").write_text("n = hunter2\n")
    [message] = errors(config, "pw=x")
    assert 'zplan.zpvars:1:5: error: "hunter2" cannot be used here' in message


@pytest.mark.parametrize("name, text", [("p.yaml", "pw: *hunter2\n"), ("p.yaml", "pw: !!int hunter2\n"), ("p.json", '{"pw": hunter2}')])
def test_a_params_file_setting_a_sensitive_variable_that_does_not_parse_is_named_without_its_reason(tmp_path, name, text):
    """A password written unquoted in YAML (`*hunter2` is an alias) got the parser's reason, which quotes
    it (`found undefined alias 'hunter2'`). A file that sets no sensitive variable still gets it."""
    (tmp_path / "main.zp.hcl").write_text('variable "pw" {\n  sensitive = true\n}\nvariable "n" {\n  default = 0\n}\n')
    config = loader.load(tmp_path)
    (tmp_path / name).write_text(text)
    [message] = errors(config, var_files=[tmp_path / name])
    assert "hunter2" not in message and "is not valid" in message and "(sensitive value)" in message, message
    (tmp_path / name).write_text(text.replace("pw", "n"))
    [message] = errors(config, "pw=x", var_files=[tmp_path / name])
    assert "is not valid" in message and "(sensitive value)" not in message, message


def test_text_for_a_variable_without_a_type_takes_the_kind_of_its_default(tmp_path):
    # -var debug=false gave the text "false": a condition refused it, and a step would take it as true
    (tmp_path / "main.zp.hcl").write_text('variable "debug" { default = false }\nvariable "epochs" { default = 10 }\nvariable "name" { default = "m" }\n')
    config = loader.load(tmp_path)
    assert resolve(config, "debug=true", "epochs=3", "name=7") == {"debug": True, "epochs": 3, "name": "7"}
    assert resolve(config, environ={"ZPLAN_VAR_debug": "0"})["debug"] is False
    assert resolve(config, "debug=maybe")["debug"] == "maybe"  # not a bool: the text, as before


def test_text_that_does_not_parse_is_an_error_naming_the_variable(config):
    [message] = errors(config, "tags=a,b")
    assert message.startswith('error: cannot read the value from -var tags: unexpected "," after the value of "tags"')


@pytest.mark.parametrize("text", ['{ name = "m", layers = [1] }\nepochs = 50', '{ name = "m", layers = [1] }\nnested { }'])
def test_text_after_the_value_on_another_line_is_an_error(config, text):
    # it was left out without a word: -var $'cfg={...}\nepochs = 50' did not set epochs
    [message] = errors(config, f"cfg={text}")
    assert message.startswith('error: cannot read the value from -var cfg: more text follows the value of "cfg" on another line')
    [message] = errors(config, environ={"ZPLAN_VAR_cfg": text})
    assert "cannot read the value from environment variable ZPLAN_VAR_cfg: more text follows" in message


def test_a_value_that_is_not_utf8_is_an_error_naming_its_source(config):
    # bytes that are not UTF-8 (-var s=$'\\xff') reach Python as lone surrogates, which no state or cache key can hold
    assert errors(config, "epochs=\udcff") == ["error: the value of -var epochs is not UTF-8 text\n  give the value in UTF-8"]
    assert "the value of environment variable ZPLAN_VAR_epochs is not UTF-8 text" in errors(config, environ={"ZPLAN_VAR_epochs": "\udcfe"})[0]
    assert resolve(config, environ={"ZPLAN_VAR_undeclared": "\udcfe"})["epochs"] == 3  # a stray one is still ignored


def test_try_and_can_in_conditions(tmp_path):
    (tmp_path / "main.zp.hcl").write_text(
        'variable "size" {\n  default = "10"\n'
        '  validation {\n    condition = can(tonumber(var.size))\n    error_message = "size must be a number"\n  }\n}\n'
    )
    config = loader.load(tmp_path)
    assert resolve(config)["size"] == "10"
    assert "size must be a number" in errors(config, "size=ten")[0]


def test_a_condition_reads_inside_the_value_with_try(tmp_path):
    (tmp_path / "main.zp.hcl").write_text(
        'variable "opts" {\n  type = map(number)\n  default = {}\n'
        '  validation {\n    condition = try(var.opts.size, 1) > 0\n    error_message = "opts.size must be positive"\n  }\n}\n'
    )
    config = loader.load(tmp_path)
    assert resolve(config)["opts"] == {}
    assert resolve(config, "opts={ size = 3 }")["opts"] == {"size": 3}
    assert "opts.size must be positive" in errors(config, "opts={ size = 0 }")[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('sensitive = "false"', "a variable's sensitive must be true or false"),
        ("description = 5", "a variable's description must be a string"),
        ("nullable = false", "expected one of: default, description, sensitive, type (and blocks: validation)"),
    ],
)
def test_variable_attributes_of_the_wrong_kind_are_errors(tmp_path, body, message):
    (tmp_path / "main.zp.hcl").write_text(f'variable "v" {{\n  {body}\n}}\n')
    with pytest.raises(DiagnosticError) as info:
        loader.load(tmp_path)
    (diag,) = info.value.diagnostics
    assert message in str(diag) and str(diag.range).endswith("main.zp.hcl:2:3")


@pytest.mark.parametrize("sensitive", ['"false"', '"true"', "0"])
def test_an_outputs_sensitive_must_be_true_or_false_as_a_variables(tmp_path, sensitive):
    # "false" was read as a true value: the output hidden, and nothing said why
    (tmp_path / "main.zp.hcl").write_text(f'output "o" {{\n  value     = 1\n  sensitive = {sensitive}\n}}\n')
    with pytest.raises(DiagnosticError) as info:
        loader.load(tmp_path)
    (diag,) = info.value.diagnostics
    assert "an output's sensitive must be true or false" in str(diag) and str(diag.range).endswith("main.zp.hcl:3:3")


@pytest.mark.parametrize("name", ["count", "for_each", "source", "version", "providers", "locals", "depends_on", "lifecycle"])
def test_reserved_variable_names_are_refused(tmp_path, name):
    (tmp_path / "main.zp.hcl").write_text(f'variable "{name}" {{}}\n')
    with pytest.raises(DiagnosticError) as info:
        loader.load(tmp_path)
    assert f'variable name "{name}" is reserved' in str(info.value.diagnostics[0])


@pytest.mark.parametrize("text", ["1_000", " 3", "3\n", "nan", "Infinity", "\u0661\u0662", "\uff13", "0x10"])
def test_a_number_is_read_with_hcls_syntax_from_every_source(tmp_path, text):
    """Python's number parser took `-var n=1_000` as 1000 (and Arabic-Indic or full-width digits,
    spaces around): Terraform reads a number given as text with HCL's syntax only."""
    (tmp_path / "main.zp.hcl").write_text('variable "n" {\n  type = number\n}\n')
    config = loader.load(tmp_path)
    shown = f'got "{text}"'
    assert shown in errors(config, f"n={text}")[0] and "(from -var n)" in errors(config, f"n={text}")[0]
    [message] = errors(config, environ={"ZPLAN_VAR_n": text})
    assert shown in message and "(from environment variable ZPLAN_VAR_n)" in message
    (tmp_path / "prod.zpvars").write_text(f"n = {json.dumps(text)}\n")
    [message] = errors(config, var_files=[tmp_path / "prod.zpvars"])
    assert shown in message and "(from prod.zpvars:1)" in message
    (tmp_path / "p.json").write_text(json.dumps({"n": text}))
    [message] = errors(config, var_files=[tmp_path / "p.json"])
    assert shown in message and "(from p.json, a params file)" in message
    (tmp_path / "main.zp.hcl").write_text(f'variable "n" {{\n  type    = number\n  default = {json.dumps(text)}\n}}\n')
    with pytest.raises(DiagnosticError, match=r'the default of variable "n" does not fit its type number'):
        loader.load(tmp_path)


@pytest.mark.parametrize("text, value", [("7", 7), ("-2", -2), ("+2", 2), ("2.5", 2.5), ("1e3", 1000), ("1E-2", 0.01), (".5", 0.5), ("5.", 5), ("007", 7)])
def test_a_number_in_hcls_syntax_is_still_read(tmp_path, text, value):
    (tmp_path / "main.zp.hcl").write_text('variable "n" {\n  type = number\n}\n')
    config = loader.load(tmp_path)
    assert resolve(config, f"n={text}")["n"] == value
    assert resolve(config, environ={"ZPLAN_VAR_n": text})["n"] == value


@pytest.mark.parametrize("text", ["True", "FALSE", "yes", " true"])
def test_a_bool_is_read_as_terraform_reads_one_from_every_source(tmp_path, text):
    """`-var debug=True` was taken as true (the text compared in any case): Terraform takes "true",
    "false", "1" and "0" only, as tobool() does, and says to write it in lowercase."""
    (tmp_path / "main.zp.hcl").write_text('variable "debug" {\n  type = bool\n}\n')
    config = loader.load(tmp_path)
    [message] = errors(config, f"debug={text}")
    assert f'(from -var debug): var.debug: a bool is required, got "{text}"' in message
    assert ('use lowercase "' + text.lower() + '"' in message) == (text.lower() in ("true", "false"))
    [message] = errors(config, environ={"ZPLAN_VAR_debug": text})
    assert "(from environment variable ZPLAN_VAR_debug)" in message and "a bool is required" in message
    (tmp_path / "prod.zpvars").write_text(f"debug = {json.dumps(text)}\n")
    [message] = errors(config, var_files=[tmp_path / "prod.zpvars"])
    assert "(from prod.zpvars:1)" in message and "a bool is required" in message
    assert [resolve(config, f"debug={t}")["debug"] for t in ("true", "false", "1", "0")] == [True, False, True, False]


def test_a_file_giving_a_sensitive_variable_a_default_has_no_parsed_tree_saved(tmp_path):
    """The parse cache would hold the secret in clear under .zplan; a tree an older version saved is removed."""
    import pickle

    from zplan.config import hcl, loader

    (tmp_path / ".zplan").mkdir()
    secret = tmp_path / "secret.zp.hcl"
    secret.write_text('variable "token" {\n  sensitive = true\n  default   = "INFILE-SECRET-8812"\n}\n')
    plain = tmp_path / "main.zp.hcl"
    plain.write_text('variable "n" {\n  default = 3\n}\n')
    config = loader.load(tmp_path)
    assert config.variables["token"].default == "INFILE-SECRET-8812" and config.variables["n"].default == 3
    cache = tmp_path / ".zplan" / "cache" / "hcl"
    saved = [f.read_bytes() for f in cache.iterdir()]
    assert len(saved) == 1 and not any(b"INFILE-SECRET-8812" in data for data in saved)  # main.zp.hcl's only
    from zplan.hashing import hash_bytes

    old = cache / f"{hash_bytes(secret.read_bytes() + str(secret).encode())}.v{loader.PARSE_CACHE_VERSION}.pickle"
    old.write_bytes(pickle.dumps(hcl.parse_file(secret), protocol=pickle.HIGHEST_PROTOCOL))  # as an older zplan saved it
    assert loader._parse(secret, cache).blocks[0].labels == ["token"]
    assert not old.exists()
