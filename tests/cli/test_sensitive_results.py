"""A step given a sensitive value has outputs no view shows: `zplan runs diff` (every format) and the
dashboard's pages and export say "(sensitive)" where they would show a value; the command line's
human views say `<sensitive>`, unquoted, as Terraform's."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import Project, cli_env

HCL = """
variable "token" {
  type      = string
  sensitive = true
}

pipeline "p" {
  step "use" {
    source = "s.py:use"
    params = { token = var.token }
  }
}
"""


ENV = cli_env(ZPLAN_VAR_token="OTHERSECRET77")  # the read commands open the project, which declares it


def _applied_twice(tmp_path) -> Project:
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL)
    p.write("s.py", "def use(token: str) -> dict:\n    return {'len': len(token), 'echo': token}\n")
    p.apply("-var", "token=FIRSTSECRET41")
    p.apply("-var", "token=OTHERSECRET77")
    return p


def test_runs_diff_never_shows_the_output_of_a_step_given_a_secret(tmp_path):
    p = _applied_twice(tmp_path)
    for fmt in ("text", "markdown", "json"):
        shown = p.ok("runs", "diff", "-format", fmt, env=ENV).text
        assert "SECRET" not in shown, shown
        assert ("(sensitive)" if fmt == "json" else "<sensitive>") in shown, shown  # JSON keeps a string


def test_the_dashboard_export_never_shows_the_output_of_a_step_given_a_secret(tmp_path):
    p = _applied_twice(tmp_path)
    p.ok("ui", "-export", "site", env=ENV)
    pages = list(p.path("site").rglob("*.html"))
    assert pages
    for page in pages:
        assert "SECRET" not in page.read_text(), page


def test_no_view_shows_the_digest_a_secret_param_is_recorded_as(tmp_path):
    """A secret is recorded as a slow digest (so a new one reruns its steps); a digest of a weak
    password can still be guessed offline, so every view says "(sensitive)", and `runs diff`
    still names the param that changed."""
    import zplan

    p = _applied_twice(tmp_path)
    shown = [p.ok("runs", "diff", "-format", fmt, env=ENV).text for fmt in ("text", "markdown", "json")]
    shown.append(p.ok("runs", "show", "2", env=ENV).text)
    p.ok("ui", "-export", "site", env=ENV)
    shown += [page.read_text() for page in p.path("site").rglob("*") if page.is_file()]
    for text in shown:
        assert "(sensitive:" not in text, text
    assert "token" in shown[0], shown[0]
    run = zplan.open(p.root, variables={"token": "OTHERSECRET77"}).run(2)
    assert [e.params for e in run.executions] == [{"token": "(sensitive)"}]


def test_metadata_a_step_logs_is_stored_and_shown_without_the_secret(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL)
    p.write("s.py", "import zplan\n\ndef use(token: str) -> int:\n"
                    "    zplan.log_metadata({'token': token, 'length': len(token)})\n    return 1\n")
    p.apply("-var", "token=FIRSTSECRET41")
    stored = b"".join(f.read_bytes() for f in p.path(".zplan").glob("metadata.db*"))
    assert b"FIRSTSECRET41" not in stored
    shown = p.ok("runs", "show", "1", env=cli_env(ZPLAN_VAR_token="FIRSTSECRET41")).text
    assert "SECRET" not in shown and '      metadata {"length": <sensitive>, "token": <sensitive>}\n' in shown, shown

    # A step saying its results reveal nothing of the secret has what it logs shown, the secret still hidden.
    p.write("s.py", "import zplan\n\n@zplan.step(sensitive_outputs=False)\ndef use(token: str) -> int:\n"
                    "    zplan.log_metadata({'token': token, 'length': len(token)})\n    return 1\n")
    p.apply("-var", "token=FIRSTSECRET41")
    shown = p.ok("runs", "show", "2", env=cli_env(ZPLAN_VAR_token="FIRSTSECRET41")).text
    assert "SECRET" not in shown and '      metadata {"length": 13, "token": <sensitive>}\n' in shown, shown


def test_every_human_view_says_sensitive_without_quotes_as_terraform(tmp_path):
    """As Terraform prints `name = <sensitive>`: a quoted "(sensitive)" reads as a string the value holds."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL.replace("params = { token = var.token }", "params = { token = var.token, n = 3 }") + """
resource "local_file" "f" {
  path              = "out/f.txt"
  sensitive_content = var.token
}

output "token" {
  value     = var.token
  sensitive = true
}
""")
    p.write("s.py", "def use(token: str, n: int) -> int:\n    return n\n")
    env = cli_env(ZPLAN_VAR_token="FIRSTSECRET41")
    planned = p.ok("plan", env=env).out
    applied = p.ok("apply", "-auto-approve", env=env).out
    assert "+ sensitive_content = <sensitive>" in planned and "+ token = <sensitive>" in planned, planned
    assert "token = <sensitive>" in applied, applied
    assert "token = <sensitive>" in p.ok("output", env=env).out
    assert p.ok("output", "token", env=env).out == "<sensitive>\n"
    assert "sensitive_content = <sensitive>" in p.ok("show", env=env).out
    assert 'params {"n": 3, "token": <sensitive>}' in p.ok("runs", "show", "1", env=env).out
    rerun = p.ok("plan", "-var", "token=OTHERSECRET77", env=env).out
    assert "params.token: <sensitive> -> <sensitive>" in rerun and "~ sensitive_content = <sensitive> -> <sensitive>" in rerun, rerun
    for shown in (planned, applied, rerun):
        assert '"(sensitive)"' not in shown and "SECRET" not in shown, shown
    assert json.loads(p.ok("state", "show", "resource.local_file.f", env=env).out)["attributes"]["sensitive_content"] == "(sensitive)"


def test_output_json_of_a_sensitive_output_is_refused_not_given_as_a_placeholder(tmp_path):
    """A script reads `zplan output -json NAME` as the value: "(sensitive)" would be taken for it."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\n\noutput "token" {\n  value     = var.token\n  sensitive = true\n}\n')
    p.apply("-var", "token=THIRDSECRET99")
    refused = p.run("output", "-json", "token", env=cli_env(ZPLAN_VAR_token="THIRDSECRET99"))
    assert refused.code == 1, str(refused)
    assert "-show-sensitive" in refused.err and "SECRET" not in refused.text and "(sensitive)" not in refused.out
    # as the list shows it, not quoted as if the value were the text "(sensitive)"
    assert p.ok("output", "token", env=cli_env(ZPLAN_VAR_token="THIRDSECRET99")).out == "<sensitive>\n"
    shown = p.ok("output", "-json", "-show-sensitive", "token", env=cli_env(ZPLAN_VAR_token="THIRDSECRET99"))
    assert shown.out == '"THIRDSECRET99"\n'


def test_a_script_command_holding_a_secret_is_shown_without_its_digest_when_it_changes(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  type      = string\n  sensitive = true\n}\n'
                           'pipeline "s" {\n  step "call" {\n    command = ["python", "call.py", var.token]\n'
                           '    outs    = ["out.txt"]\n  }\n}\n')
    p.write("call.py", "import sys\nopen('out.txt', 'w').write(str(len(sys.argv[1])))\n")
    p.apply("-var", "token=FIRSTSECRET41")
    shown = [p.ok("plan", "-var", "token=OTHERSECRET77", "--format", fmt).text for fmt in ("text", "markdown", "json")]
    for text in shown:
        assert "(sensitive:" not in text and "SECRET" not in text, text
    assert "command: python call.py <sensitive> -> python call.py <sensitive>" in shown[0], shown[0]


def test_a_secret_inside_a_map_param_is_shown_hidden_when_it_changes_never_as_its_digest(tmp_path):
    """A secret is recorded as its digest wherever it sits; the rerun reason names the param, the
    secret hidden, in every format and in the run's record."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL.replace("params = { token = var.token }", 'params = { db = { user = "ml", password = var.token } }'))
    p.write("s.py", "def use(db: dict) -> int:\n    return len(db['password'])\n")
    p.apply("-var", "token=FIRSTSECRET41")
    shown = [p.ok("plan", "-var", "token=OTHERSECRET77", "--format", fmt).text for fmt in ("text", "markdown", "json")]
    p.apply("-var", "token=OTHERSECRET77")
    shown.append(p.ok("runs", "show", "2", env=ENV).text)
    for text in shown:
        assert "(sensitive:" not in text and "SECRET" not in text, text
    assert 'params.db: {"password":<sensitive>,"user":"ml"} -> {"password":<sensitive>,"user":"ml"}' in shown[0], shown[0]


def test_a_sensitive_resource_attribute_given_to_a_step_is_kept_as_a_variable_s_secret_is(tmp_path):
    """A step param read from a resource's sensitive attribute was written in clear into state, ML
    Metadata and the step's log (only sensitive variables' values were known secrets). It is now
    digested and redacted as theirs are; the plan stays without changes, and a new value reruns."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", """
variable "cred" { default = "TOKENVALUE-4471" }
resource "local_file" "cred" {
  path              = "cred.txt"
  sensitive_content = var.cred
}
pipeline "p" {
  step "use" {
    source = "s.py:use"
    params = { token = resource.local_file.cred.sensitive_content }
  }
}
""")
    p.write("s.py", "def use(token: str) -> int:\n    print('got', token)\n    return len(token)\n")
    p.apply()
    leaks = [f for f in p.path(".zplan").rglob("*") if f.is_file() and "hcl" not in f.parts and b"TOKENVALUE-4471" in f.read_bytes()]
    assert leaks == []
    logs = list(p.path(".zplan/logs").rglob("*.log"))
    assert logs and "got (sensitive)" in logs[0].read_text()
    assert "No changes" in p.ok("plan").text
    assert "will rerun" in p.ok("plan", "-var", "cred=TOKENVALUE-9999").text


def test_a_module_s_sensitive_input_given_to_a_step_is_kept_secret(tmp_path):
    """A module variable declared sensitive, set from a file the configuration does not hold, reached
    a step's params (and so state and its log) in clear."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'module "m" {\n  source = "./m"\n  token  = trimspace(file("token.txt"))\n}\n')
    p.write("token.txt", "FILETOKEN-5521\n")
    p.write("m/main.zp.hcl", """
variable "token" { sensitive = true }
pipeline "p" {
  step "use" {
    source = "s.py:use"
    params = { token = var.token }
  }
}
""")
    p.write("m/s.py", "def use(token: str) -> int:\n    print('got', token)\n    return len(token)\n")
    p.apply()
    leaks = [f for f in p.path(".zplan").rglob("*") if f.is_file() and b"FILETOKEN-5521" in f.read_bytes()]
    assert leaks == []
    assert "No changes" in p.ok("plan").text


def test_a_value_made_sensitive_by_the_function_is_kept_secret_as_a_sensitive_variable_s(tmp_path):
    """sensitive(x) was an unknown function. What it marks is hidden in the saved plan and every
    view of it, digested in state, ML Metadata and the step's log; nonsensitive() of a digest of
    it shows the digest, and an output of the value itself must say sensitive = true."""
    import hashlib

    p = Project(tmp_path / "p")
    config = """
locals {
  token = sensitive(trimspace(file("token.txt")))
}
pipeline "p" {
  step "use" {
    source = "s.py:use"
    params = { token = local.token, n = 3 }
  }
}
output "token" {
  value     = local.token
  sensitive = true
}
output "digest" { value = nonsensitive(sha256(local.token)) }
"""
    p.write("main.zp.hcl", config)
    p.write("token.txt", "FILETOKEN-6632\n")
    p.write("s.py", "import zplan\n\ndef use(token: str, n: int) -> int:\n    print('got', token)\n"
                    "    zplan.log_metadata({'token': token})\n    return len(token)\n")
    p.ok("plan", "-out", "p.zplan")
    shown = [p.ok("show", "-json", "p.zplan").text, p.ok("show", "p.zplan").text, p.ok("plan", "--format", "markdown").text]
    applied = p.ok("apply", "p.zplan").text
    shown += [applied, p.ok("output").text, p.ok("runs", "show", "1").text]
    for text in shown:
        assert "FILETOKEN" not in text, text
    assert f'digest = "{hashlib.sha256(b"FILETOKEN-6632").hexdigest()}"' in applied and "token = <sensitive>" in applied, applied
    assert '"token": "(sensitive)"' in shown[0], shown[0]
    leaks = [f for f in [*p.root.rglob("*")] if f.is_file() and f.name != "token.txt" and b"FILETOKEN" in f.read_bytes()]
    assert leaks == []
    assert "got (sensitive)" in next(p.path(".zplan/logs").rglob("*.log")).read_text()
    assert "No changes" in p.ok("plan").text
    p.write("main.zp.hcl", config.replace("  sensitive = true\n", ""))
    refused = p.run("plan")
    assert refused.code == 1 and "Output refers to sensitive values" in refused.err, str(refused)


def test_a_secret_met_after_a_step_that_writes_it_in_clear_does_not_rerun_that_step(tmp_path):
    """Secrets are known by value, and one made by sensitive() is known once evaluated: a step planned
    before it took the same text for plain, so its cache key differed from what apply recorded and
    every later plan reran it, "params.token: <sensitive> -> '(sensitive)'". A plan now knows every
    secret before it plans a step."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", """
pipeline "p" {
  step "a" {
    source = "s.py:use"
    params = { token = "CLEARTOKEN-7781" }
  }
  step "b" {
    source = "s.py:use"
    params = { token = sensitive("CLEARTOKEN-7781") }
  }
}
""")
    p.write("s.py", "def use(token: str) -> int:\n    print('got', token)\n    return len(token)\n")
    p.ok("plan", "-out", "p.zplan")
    assert "CLEARTOKEN" not in p.ok("show", "-json", "p.zplan").text
    p.ok("apply", "p.zplan")
    assert "No changes" in p.ok("plan").text
    leaks = [f for f in p.path(".zplan").rglob("*") if f.is_file() and "hcl" not in f.parts and b"CLEARTOKEN" in f.read_bytes()]
    assert leaks == []  # (the parsed configuration, cached, holds what the configuration holds)


def test_an_output_holding_a_secret_is_kept_and_shown_as_a_sensitive_one(tmp_path):
    """Secrets are known by value: the plan showed an output holding one (written in clear, or
    through nonsensitive()) as <sensitive>, but apply and `zplan output` printed it and state kept it
    in clear. It is now sealed and shown as a sensitive output is, and a plan after the apply has no changes."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\n'
                           'output "clear" { value = "OUTTOKEN-3390" }\n'
                           'output "lifted" { value = { t = nonsensitive(var.token) } }\n'
                           'output "plain" { value = "other" }\n')
    env = cli_env(ZPLAN_VAR_token="OUTTOKEN-3390")
    shown = [p.ok("plan", env=env).text, p.ok("apply", "-auto-approve", env=env).text, p.ok("output", env=env).text,
             p.ok("output", "-json", env=env).text]
    for text in shown:
        assert "OUTTOKEN" not in text, text
    assert "clear = <sensitive>" in shown[1] and "lifted = <sensitive>" in shown[1] and 'plain = "other"' in shown[1], shown[1]
    leaks = [f for f in p.path(".zplan").rglob("*") if f.is_file() and "hcl" not in f.parts and b"OUTTOKEN" in f.read_bytes()]
    assert leaks == []
    assert "No changes" in p.ok("plan", env=env).text
    assert p.ok("output", "-json", "-show-sensitive", "clear", env=env).out == '"OUTTOKEN-3390"\n'


def test_a_param_computed_from_a_secret_is_kept_secret_as_the_secret_is(tmp_path):
    """Only the sensitive variable's own text was a known secret: upper(var.token) in a param was
    shown by `show -json` and `runs show` and written in clear into state, ML Metadata and the step's
    log. It is now a secret too; a plain param beside it is still shown."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL.replace("params = { token = var.token }", 'params = { token = upper(var.token), n = "plain-3" }'))
    p.write("s.py", "def use(token: str, n: str) -> int:\n    print('got', token)\n    return len(token)\n")
    env = cli_env(ZPLAN_VAR_token="lowertoken-4417")
    p.ok("plan", "-out", "p.zplan", env=env)
    shown = [p.ok("show", "-json", "p.zplan", env=env).text, p.ok("apply", "p.zplan", env=env).text, p.ok("runs", "show", "1", env=env).text]
    for text in shown:
        assert "LOWERTOKEN" not in text, text
    assert 'params {"n": "plain-3", "token": <sensitive>}' in shown[2], shown[2]
    leaks = [f for f in p.path(".zplan").rglob("*") if f.is_file() and b"LOWERTOKEN" in f.read_bytes()]
    assert leaks == []
    assert "got (sensitive)" in next(p.path(".zplan/logs").rglob("*.log")).read_text()
    assert "No changes" in p.ok("plan", env=env).text


def test_a_command_argument_computed_from_a_secret_is_kept_secret(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  type      = string\n  sensitive = true\n}\n'
                           'pipeline "s" {\n  step "call" {\n    command = ["python", "call.py", upper(var.token)]\n'
                           '    outs    = ["out.txt"]\n  }\n}\n')
    p.write("call.py", "import sys\nprint('arg', sys.argv[1])\nopen('out.txt', 'w').write(str(len(sys.argv[1])))\n")
    env = cli_env(ZPLAN_VAR_token="lowertoken-4417")
    shown = [p.ok("plan", "--format", "json", env=env).text, p.ok("apply", "-auto-approve", env=env).text, p.ok("runs", "show", "1", env=env).text]
    for text in shown:
        assert "LOWERTOKEN" not in text, text
    assert 'params {":command": ["python", "call.py", <sensitive>]}' in shown[2], shown[2]
    leaks = [f for f in p.path(".zplan").rglob("*") if f.is_file() and b"LOWERTOKEN" in f.read_bytes()]
    assert leaks == []
    assert "arg (sensitive)" in next(p.path(".zplan/logs").rglob("*.log")).read_text()
    assert "No changes" in p.ok("plan", env=env).text


def test_a_provider_error_quoting_an_attribute_computed_from_a_secret_does_not_show_it(tmp_path):
    """An attribute computed from a secret was hidden in the plan but not a known secret: local_file's
    "PATH is a directory" showed upper(var.token) in clear when apply failed."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\n'
                           'resource "local_file" "f" {\n  path    = upper(var.token)\n  content = "x"\n}\n')
    p.path("DIRTOKEN-5190").mkdir()
    failed = p.run("apply", "-auto-approve", env=cli_env(ZPLAN_VAR_token="dirtoken-5190"))
    assert failed.code == 1 and "(sensitive) is a directory" in failed.text, str(failed)
    assert "DIRTOKEN" not in failed.text


def test_a_saved_plan_never_holds_a_variable_given_to_sensitive(tmp_path):
    """A variable not declared sensitive but given to sensitive() was written in clear into the plan
    file; it is now kept out as a sensitive one is, and given again in the environment to apply."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "key" {}\npipeline "p" {\n  step "a" {\n    source = "s.py:a"\n'
                           '    params = { key = sensitive(var.key) }\n  }\n}\n')
    p.write("s.py", "def a(key: str) -> int:\n    return len(key)\n")
    p.ok("plan", "-var", "key=PLANFILEKEY-9", "-out", "p.zplan")
    assert b"PLANFILEKEY" not in p.path("p.zplan").read_bytes()
    refused = p.run("apply", "p.zplan")
    assert refused.code == 1 and 'sensitive variable "key" is not given now' in refused.err, str(refused)
    assert "Apply complete: 1 ok." in p.ok("apply", "p.zplan", env=cli_env(ZPLAN_VAR_key="PLANFILEKEY-9")).text


def test_a_step_runs_without_zplan_s_own_secrets_in_its_environment(tmp_path):
    """A step inherited ZPLAN_STATE_KEY (the key sealing state), ZPLAN_MYSQL_PASSWORD and the ZPLAN_VAR_*
    values: a step printing its environment had them to print (a variable the configuration does not
    use is no known secret, so it reached the log in clear). A function step and a script step now
    run without them, as a service does; the apply still seals its sensitive outputs with the key."""
    from cryptography.fernet import Fernet

    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\npipeline "p" {\n  step "a" {\n    source = "s.py:a"\n'
                           '    params = { token = var.token }\n  }\n  step "b" {\n    command = ["python", "env.py"]\n'
                           '    outs    = ["env.txt"]\n  }\n}\n')
    names = "sorted(k for k in os.environ if k.startswith('ZPLAN_'))"
    p.write("s.py", f"import os\n\ndef a(token: str) -> str:\n    print({names})\n    return token.lower()\n")
    p.write("env.py", f"import os\nopen('env.txt', 'w').write(repr({names}))\n")
    key = Fernet.generate_key().decode()
    env = cli_env(ZPLAN_STATE_KEY=key, ZPLAN_MYSQL_PASSWORD="DBPASSWORD-6620", ZPLAN_VAR_token="TOKEN-1234", ZPLAN_VAR_ci_only="CI-5678")
    p.ok("apply", "-auto-approve", env=env)
    log = next(p.path(".zplan/logs").rglob("pipeline.p.step.a.log")).read_text()
    left = repr(sorted(k for k in env if k.startswith("ZPLAN_") and not k.startswith(("ZPLAN_VAR_", "ZPLAN_STATE_KEY", "ZPLAN_MYSQL_PASSWORD"))))
    assert p.path("env.txt").read_text() == left and left in log, log
    state = json.loads(p.path(".zplan/state.json").read_text())
    [sealed] = [s["outputs"]["output"]["value"] for store in state["stores"].values() for a, s in store["steps"].items() if a.endswith(".a")]
    assert json.loads(Fernet(key.encode()).decrypt(next(iter(sealed.values())).encode())) == "token-1234"


def test_a_saved_plan_is_stale_when_a_value_it_hides_reads_otherwise_now(tmp_path):
    """A secret attribute, output or param is `<sensitive>` in the reviewed plan either way: an `env()`
    giving it another value at apply made apply write what nobody reviewed, unnoticed."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'resource "local_file" "f" {\n  path              = "out.txt"\n'
                           '  sensitive_content = env("CONTENT", "reviewed")\n}\n')
    p.ok("plan", "-out", "p.zplan")
    assert b"reviewed" not in p.path("p.zplan").read_bytes()
    refused = p.run("apply", "p.zplan", env=cli_env(CONTENT="other"))
    assert refused.code == 1, str(refused)
    assert "saved plan is stale: the planned value of resource.local_file.f.sensitive_content changed since the plan was made" in refused.err
    assert not p.path("out.txt").exists()
    p.ok("apply", "p.zplan")
    assert p.path("out.txt").read_text() == "reviewed"


MAP_FORMS = {  # every expression form reading a sensitive map: each result is sensitive, its keys too
    "for_map": "{ for k, v in var.m : k => 1 }",
    "for_list": "[for k, v in var.m : k]",
    "whole": "var.m",
    "keys": "keys(var.m)",
    "values": "values(var.m)",
    "merge": 'merge(var.m, { other = "o" })',
    "lookup": 'lookup(var.m, "alphakey", "none")',
    "index": 'var.m["alphakey"]',
    "splat": "[for k, v in var.m : { name = k }][*].name",
    "template": '"%{ for k, v in var.m }${k};%{ endfor }"',
    "conditional": "length(var.m) > 0 ? { for k, v in var.m : upper(k) => 2 } : {}",
    "zipmap": "zipmap(keys(var.m), [3, 4])",
}


def test_no_expression_reading_a_sensitive_map_shows_its_keys(tmp_path):
    """`{ for k, v in var.m : k => 1 }` gave a step a map whose keys were the sensitive map's keys, and
    every view and state showed them (only values were secrets). As in Terraform, what reads a sensitive
    map is sensitive, its keys too: a map holding one is hidden whole."""
    p = Project(tmp_path / "p")
    steps = "".join(f'  step "{name}" {{\n    source = "s.py:use"\n    params = {{ x = {expr} }}\n  }}\n' for name, expr in MAP_FORMS.items())
    p.write("main.zp.hcl", 'variable "m" {\n  type      = map(string)\n  sensitive = true\n}\n\npipeline "p" {\n' + steps + "}\n")
    p.write("s.py", "def use(x) -> int:\n    print('got', x)\n    return 5\n")
    p.write("zplan.zpvars", 'm = { alphakey = "alphavalue", betakey = "betavalue" }\n')
    secrets = ("alphakey", "betakey", "ALPHAKEY", "alphavalue", "betavalue")
    shown = [p.ok("plan", "-format", fmt).text for fmt in ("text", "markdown", "json")]
    shown += [p.ok("apply", "-auto-approve").text, p.ok("show", "-json").text, p.ok("runs", "show", "1").text]
    shown += [p.ok("state", "show", f"pipeline.p.step.{name}").text for name in MAP_FORMS]
    for text in shown:
        assert not any(s in text for s in secrets), text
    # (the parse cache of the configuration, which names a key in clear, aside)
    leaks = [f for f in p.path(".zplan").rglob("*") if f.is_file() and "hcl" not in f.parts and any(s.encode() in f.read_bytes() for s in secrets)]
    assert leaks == []
    assert 'params {"x": <sensitive>}' in p.ok("runs", "show", "1").text
    p.write("zplan.zpvars", 'm = { alphakey = "alphavalue", gammakey = "betavalue" }\n')
    rerun = p.ok("plan").text  # a renamed key reruns what reads the keys, named without showing them
    lines = {line.split()[1]: line for line in rerun.splitlines() if "pipeline.p.step." in line}
    assert lines["pipeline.p.step.for_map"].endswith("will rerun: params.x: <sensitive> -> <sensitive>"), rerun
    assert "gammakey" not in rerun and "cached" in lines["pipeline.p.step.index"], rerun


def test_the_attribute_names_of_a_sensitive_object_stay_plain_text(tmp_path):
    """An object type's attribute names are written in the configuration, not secrets: a param
    holding one is shown, and the object's values are hidden each in its place."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "db" {\n  type      = object({ user = string, password = string })\n  sensitive = true\n}\n\n'
                           'pipeline "p" {\n  step "use" {\n    source = "s.py:use"\n    params = { db = var.db, dir = "user-password" }\n  }\n}\n')
    p.write("s.py", "def use(db: dict, dir: str) -> int:\n    return 1\n")
    p.write("zplan.zpvars", 'db = { user = "admin-4410", password = "hunter-4410" }\n')
    shown = p.ok("plan", "-format", "json").out
    assert json.loads(shown)["steps"][0]["params"] == {"db": {"password": "(sensitive)", "user": "(sensitive)"}, "dir": "user-password"}


def test_a_one_letter_secret_is_sealed_in_state_without_mangling_the_log(tmp_path):
    """Every "a" of the step's log and of the plan's reasons became "(sensitive)" for a secret "a".
    A secret under four characters is now hidden where a value is exactly it, not inside free text."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL.replace("params = { token = var.token }", 'params = { token = var.token, fruit = "banana" }'))
    p.write("s.py", "def use(token: str, fruit: str) -> int:\n    print('ate a', fruit)\n    return 1\n")
    env = cli_env(ZPLAN_VAR_token="a")
    planned = json.loads(p.ok("plan", "-format", "json", env=env).out)
    assert planned["steps"][0]["params"] == {"fruit": "banana", "token": "(sensitive)"}
    assert "will run: never ran" in p.ok("plan", env=env).out
    p.ok("apply", "-auto-approve", env=env)
    assert next(p.path(".zplan/logs").rglob("*.log")).read_text() == "ate a banana\n"
    recorded = json.loads(p.path(".zplan/state.json").read_text())
    assert '"token": "a"' not in json.dumps(recorded) and '"fruit": "banana"' in json.dumps(recorded)
    assert 'params {"fruit": "banana", "token": <sensitive>}' in p.ok("runs", "show", "1", env=env).out


@pytest.mark.parametrize("params", ["var.m", "{ for k, v in var.m : k => 1 }", "zipmap(keys(var.m), [1])", "{ for k, v in var.m : upper(k) => 1 }"])
def test_params_named_by_a_sensitive_map_s_keys_are_refused_at_their_line(tmp_path, params):
    """`params = var.m` made the params themselves a map with secret keys: they were written in clear,
    and once keys were secrets the params were digested whole, a text where state wants an object
    (an internal error at the next plan). As for_each refuses one, the plan refuses it at its line;
    sensitive values under named params, merged or not, are still taken."""
    p = Project(tmp_path / "p")
    hcl = 'variable "m" {\n  type      = map(string)\n  sensitive = true\n}\n\npipeline "p" {\n  step "use" {\n    source = "s.py:use"\n    params = PARAMS\n  }\n}\n'
    p.write("main.zp.hcl", hcl.replace("PARAMS", params))
    p.write("s.py", "def use(**kw) -> int:\n    return len(kw)\n")
    p.write("zplan.zpvars", 'm = { alphakey = "alphavalue" }\n')
    refused = p.run("plan")
    assert refused.code == 1 and "Traceback" not in refused.err, str(refused)
    assert 'main.zp.hcl:9:14: step "use": the names of params cannot come from a sensitive value' in refused.err, str(refused)
    assert "alphakey" not in refused.text.lower() and "alphavalue" not in refused.text
    p.write("main.zp.hcl", hcl.replace("PARAMS", 'merge({ n = 1 }, { token = var.m["alphakey"] })'))
    assert json.loads(p.ok("plan", "-format", "json").out)["steps"][0]["params"] == {"n": "(sensitive)", "token": "(sensitive)"}


def test_params_named_like_the_keys_of_a_sensitive_object_stay_one_param_each(tmp_path):
    """A sensitive variable without a type, set from a params file, has its keys known as secrets (it
    may be a map): params named like them (`n = var.train.n`) made the step's params one digest in state,
    and the next plan failed with an internal error. The params are each recorded and shown on their own."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "train" {\n  sensitive = true\n}\n\npipeline "p" {\n  step "use" {\n    source = "s.py:use"\n'
                           '    params = { n = var.train.n, tok = var.train.token }\n  }\n}\n')
    p.write("s.py", "import zplan\n\n@zplan.step(sensitive_outputs=False)\ndef use(n: int, tok: str) -> int:\n"
                    "    zplan.log_metadata({'n': n})\n    return 1\n")
    p.write("params.yaml", "train:\n  n: 50\n  token: firstsecret-123\n")
    p.ok("apply", "-auto-approve", "-var-file", "params.yaml")
    p.write("params.yaml", "train:\n  n: 100\n  token: firstsecret-123\n")
    planned = p.ok("plan", "-var-file", "params.yaml", "-format", "json").out
    assert json.loads(planned)["steps"][0]["params"] == {"n": "(sensitive)", "tok": "(sensitive)"}
    assert "params.yaml: train.n <sensitive> -> <sensitive>" in p.ok("plan", "-var-file", "params.yaml").out
    shown = p.ok("runs", "show", "1", env=cli_env(ZPLAN_VAR_train='{ n = 50, token = "firstsecret-123" }')).out
    # what it logs stays a record too, its entry named like a key of the secret folded into one
    assert 'params {"n": <sensitive>, "tok": <sensitive>}' in shown and "metadata {<sensitive>: <sensitive>}" in shown, shown


def test_metadata_a_step_logs_under_a_sensitive_map_s_keys_does_not_name_them(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "m" {\n  type      = map(string)\n  sensitive = true\n}\n\npipeline "p" {\n  step "use" {\n'
                           '    source = "s.py:use"\n    params = { m = var.m }\n  }\n}\n')
    p.write("s.py", "import zplan\n\ndef use(m: dict) -> int:\n    zplan.log_metadata({**{k: len(v) for k, v in m.items()}, 'rows': 3})\n    return 1\n")
    p.write("zplan.zpvars", 'm = { alphakey = "alphavalue", betakey = "betavalue" }\n')
    p.apply()
    stored = b"".join(f.read_bytes() for f in p.path(".zplan").glob("metadata.db*"))
    assert b"alphakey" not in stored and b"betakey" not in stored
    shown = p.ok("runs", "show", "1").out
    assert 'metadata {<sensitive>: <sensitive>, "rows": <sensitive>}' in shown, shown


def test_a_changed_output_shows_its_recorded_value_hidden_when_it_was_or_is_sensitive(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\nvariable "n" {\n  default = 1\n}\n'
                           'output "secret" {\n  value     = "${var.token}-${var.n}"\n  sensitive = true\n}\n'
                           'output "n" { value = var.n }\n')
    env = cli_env(ZPLAN_VAR_token="OLDTOKEN-5521")
    p.ok("apply", "-auto-approve", env=env)
    env = cli_env(ZPLAN_VAR_token="NEWTOKEN-5521")
    shown = [p.ok("plan", "-var", "n=2", env=env).text, p.ok("plan", "-var", "n=2", "-format", "markdown", env=env).text]
    doc = json.loads(p.ok("plan", "-var", "n=2", "-format", "json", env=env).out)
    for text in [*shown, json.dumps(doc)]:
        assert "TOKEN" not in text, text
    assert "  ~ secret = <sensitive>\n" in shown[0] and "  ~ n = 1 -> 2" in shown[0], shown[0]
    assert doc["outputs"]["secret"]["before"] == "(sensitive)" and doc["outputs"]["n"]["before"] == 1

    p.replace("main.zp.hcl", "  sensitive = true\n}\noutput", "  sensitive = false\n}\noutput")  # no longer sensitive: its old value was
    p.replace("main.zp.hcl", '"${var.token}-${var.n}"', '"plain-${var.n}"')
    doc = json.loads(p.ok("plan", "-format", "json", env=env).out)
    assert doc["outputs"]["secret"] == {"known": True, "sensitive": False, "value": "plain-1", "before": "(sensitive)"}
    assert '  ~ secret = <sensitive> -> "plain-1"' in p.ok("plan", env=env).out


def test_a_removed_output_shows_its_recorded_value_hidden_when_it_was_sensitive(tmp_path):
    # it showed no old value at all: Terraform shows `- name = "old" -> null`, `(sensitive value)` for a secret
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\n'
                           'output "secret" {\n  value     = var.token\n  sensitive = true\n}\n'
                           'output "name" { value = "old" }\noutput "gone" { value = "was" }\n')
    env = cli_env(ZPLAN_VAR_token="OLDTOKEN-5521")
    p.ok("apply", "-auto-approve", env=env)
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\noutput "name" { value = null }\n')
    shown = [p.ok("plan", env=env).out, p.ok("plan", "-format", "markdown", env=env).out, p.ok("plan", "-destroy", env=env).out]
    doc = json.loads(p.ok("plan", "-format", "json", env=env).out)
    for text in [*shown, json.dumps(doc)]:
        assert "TOKEN" not in text, text
    assert '  - gone = "was" -> null\n  - name = "old" -> null\n  - secret = <sensitive> -> null\n' in shown[0], shown[0]
    assert '- secret = <sensitive> -> null' in shown[1] and '  - secret = <sensitive> -> null' in shown[2]
    assert doc["output_changes"] == {"gone": "remove", "name": "remove", "secret": "remove"}
    assert doc["outputs"]["secret"] == {"known": True, "sensitive": False, "value": None, "before": "(sensitive)"}
    assert doc["outputs"]["name"]["before"] == "old" and doc["outputs"]["gone"]["before"] == "was"


def test_a_step_output_holding_a_secret_is_sealed_in_state_even_from_a_step_declared_free_of_it(tmp_path):
    """A step declared free of secrets (sensitive_outputs=False) that returns one anyway, or one that
    writes a secret's text itself, had its small output kept in clear in state and shown by `show -json`
    and `state show`, where the output reading it was already <sensitive>. It is sealed as a sensitive
    step's is, and still given on request."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL.replace('    params = { token = var.token }\n  }\n', '    params = { token = var.token }\n  }\n'
                                       '  step "plain" {\n    source = "s.py:plain"\n  }\n')
            + 'output "echo" {\n  value = step.use.outputs.output\n}\n')
    p.write("s.py", "import zplan\n\n@zplan.step(sensitive_outputs=False)\ndef use(token: str) -> dict:\n    return {'echo': token}\n\n"
                    "def plain() -> str:\n    return 'ECHOSECRET-55'\n")
    env = cli_env(ZPLAN_VAR_token="ECHOSECRET-55")
    assert "echo = <sensitive>" in p.ok("apply", "-auto-approve", env=env).out
    shown = [p.ok(*command, env=env).text for command in (("show", "-json"), ("state", "show", "pipeline.p.step.use"), ("state", "show", "pipeline.p.step.plain"))]
    for text in shown:
        assert "SECRET" not in text and "(sensitive)" in text, text
    leaks = [f for f in p.path(".zplan").rglob("*") if f.is_file() and "artifacts" not in f.parts and b"ECHOSECRET" in f.read_bytes()]
    assert leaks == []
    assert "No changes" in p.ok("plan", env=env).text
    assert p.ok("output", "-json", "-show-sensitive", "echo", env=env).out == '{"echo": "ECHOSECRET-55"}\n'


def test_the_dashboard_preview_of_an_output_holding_a_secret_shows_it_nowhere(tmp_path):
    """The dashboard previews a small step output from its artifact: a step not given the secret that
    writes its text all the same (a token read from a file it was pointed to) had it shown in clear."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL.replace('    params = { token = var.token }\n', ''))
    p.write("s.py", "def use() -> dict:\n    return {'token': 'PREVIEWSECRET-9', 'rows': 3}\n")
    env = cli_env(ZPLAN_VAR_token="PREVIEWSECRET-9")
    p.ok("apply", "-auto-approve", env=env)
    p.ok("ui", "-export", "site", env=env)
    pages = {page.name: page.read_text() for page in p.path("site").rglob("*.html")}
    assert [name for name, text in pages.items() if "PREVIEWSECRET" in text] == []
    assert '<pre class="preview">(sensitive)' in pages["run-1-pipeline.p.step.use.html"]


@pytest.mark.parametrize("inputs", ["var.m", '{ for k, v in var.m : k => "data.csv" }'])
def test_inputs_named_by_a_sensitive_map_s_keys_are_refused_at_their_line(tmp_path, inputs):
    """As params: `inputs = { for k, v in var.m : k => "data.csv" }` named the step's inputs by the
    sensitive map's keys, shown in the JSON plan and written in state and ML Metadata."""
    p = Project(tmp_path / "p")
    hcl = 'variable "m" {\n  type      = map(string)\n  sensitive = true\n}\n\npipeline "p" {\n  step "use" {\n    source = "s.py:use"\n    inputs = INPUTS\n  }\n}\n'
    p.write("main.zp.hcl", hcl.replace("INPUTS", inputs))
    p.write("s.py", "def use(**kw) -> int:\n    return len(kw)\n")
    p.write("data.csv", "a,b\n")
    p.write("zplan.zpvars", 'm = { alphakey = "data.csv" }\n')
    refused = p.run("plan")
    assert refused.code == 1 and "Traceback" not in refused.err, str(refused)
    assert 'main.zp.hcl:9:14: step "use": the names of inputs cannot come from a sensitive value' in refused.err, str(refused)
    assert "alphakey" not in refused.text
    p.write("main.zp.hcl", hcl.replace("INPUTS", '{ data = var.m["alphakey"] }'))
    assert json.loads(p.ok("plan", "-format", "json").out)["steps"][0]["inputs"]["data"]["path"] == "(sensitive)"


def test_an_output_a_step_writes_a_secret_into_is_hidden_run_after_run(tmp_path):
    """A step not given the secret that writes its text all the same: its output was shown <sensitive>
    by `zplan output`, but `runs diff` printed each run's value in clear, and so did the dashboard's
    history of the output, `project.output_history` and `project.output(name, run=N)`."""
    import zplan
    from zplan.api import SensitiveOutput

    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\nvariable "n" {\n  default = 1\n}\n'
                           'pipeline "p" {\n  step "leak" {\n    source = "s.py:leak"\n    params = { n = var.n }\n  }\n}\n'
                           'output "leaked" {\n  value = step.leak.outputs.output\n}\n')
    p.write("s.py", "def leak(n: int) -> str:\n    return f'HISTORYSECRET-{n}' if n < 2 else f'HISTORYSECRET-4{n}'\n")
    env = cli_env(ZPLAN_VAR_token="HISTORYSECRET-")
    p.ok("apply", "-auto-approve", env=env)
    p.ok("apply", "-auto-approve", "-var", "n=2", env=env)
    shown = [p.ok("runs", "diff", "-format", fmt, env=env).text for fmt in ("text", "markdown", "json")]
    p.ok("ui", "-export", "site", env=env)
    shown += [page.read_text() for page in p.path("site").rglob("*.html")]
    for text in shown:
        assert "HISTORYSECRET" not in text, text
    assert "leak output: <sensitive> -> <sensitive>" in shown[0], shown[0]
    project = zplan.open(p.root, variables={"token": "HISTORYSECRET-"})
    assert [point.value for point in project.output_history("leaked")] == ["(sensitive)", "(sensitive)"]
    with pytest.raises(SensitiveOutput):
        project.output("leaked", run=1)
    assert project.output("leaked", run=1, reveal=True) == "HISTORYSECRET-1"


def test_an_output_a_step_wrote_a_secret_into_stays_hidden_from_readers_not_given_the_secret(tmp_path):
    """The dashboard, `runs diff` and the API need no value for a variable they do not read, and they knew an
    output held a secret only by its value: without it they showed each run's value in clear, where state
    had sealed it. The run records that the step's outputs held a known secret when the apply made or reused them."""
    import zplan
    from zplan.api import SensitiveOutput

    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "token" {\n  sensitive = true\n}\nvariable "n" {\n  default = 1\n}\n'
                           'pipeline "p" {\n  step "leak" {\n    source = "s.py:leak"\n    params = { n = var.n }\n  }\n}\n'
                           'output "leaked" {\n  value = step.leak.outputs.output\n}\n')
    p.write("s.py", "def leak(n: int) -> str:\n    return f'UNGIVENSECRET-{n}'\n")
    env = cli_env(ZPLAN_VAR_token="UNGIVENSECRET-")
    p.ok("apply", "-auto-approve", env=env)
    p.ok("apply", "-auto-approve", "-var", "n=2", env=env)
    p.ok("apply", "-auto-approve", env=env)  # run 3 reuses run 1's output
    shown = [p.ok("runs", "diff", "1", "2", "-format", fmt).text for fmt in ("text", "markdown", "json")]
    p.ok("ui", "-export", "site")
    shown += [page.read_text() for page in p.path("site").rglob("*.html")]
    for text in shown:
        assert "UNGIVENSECRET" not in text, text
    project = zplan.open(p.root)
    assert [point.value for point in project.output_history("leaked")] == ["(sensitive)"] * 3
    assert project.artifact("pipeline.p.step.leak", run=3).sensitive
    with pytest.raises(SensitiveOutput):
        project.output("leaked", run=2)


ESCAPING = """
import json


def use(token: str) -> int:
    print("params:", {"token": token})  # a dict prints its strings as repr() writes them
    print("json:", json.dumps({"token": token}))
    raise ValueError(f"token {token!r} rejected")
"""


def test_a_secret_printed_escaped_by_repr_or_json_is_hidden_too(tmp_path):
    # a secret holding a backslash, a quote or a letter outside ASCII, as a generated password may,
    # was shown in clear by the log, the apply's error and `runs show` when printed in a dict or as JSON
    secret = 'Pa\\ss"w\u00f6rd9'
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL)
    p.write("s.py", ESCAPING)
    env = cli_env(ZPLAN_VAR_token=secret)
    applied = p.run("apply", "-auto-approve", env=env)
    assert applied.code == 1 and "ValueError: token '(sensitive)' rejected" in applied.out + applied.err, str(applied)
    (log,) = p.path(".zplan/logs").rglob("*.log")
    shown = {"apply": applied.out + applied.err, "log": log.read_text(), "runs show": p.ok("runs", "show", "1", env=env).out}
    for where, text in shown.items():
        for spelling in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
            assert spelling not in text, f"{where}: {spelling}\n{text}"
