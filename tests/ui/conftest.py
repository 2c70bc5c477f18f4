"""Projects for the dashboard tests: the quickstart applied twice, and the quickstart plus a probe
pipeline holding a secret and an HTML payload, applied once. Both are made by the real CLI."""

from __future__ import annotations

import warnings

import pytest

from tests.cli.helpers import QUICKSTART, Project, copy_project

# starlette's TestClient announces a future client library; the one pinned works.
warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

SECRET = "tok-9f8e7d6c5b4a31"
XSS = "<script>alert('xss')</script>"

PROBE_HCL = f'''
variable "token" {{
  type      = string
  sensitive = true
  default   = "{SECRET}"
}}

resource "local_file" "token" {{
  path              = "token.txt"
  sensitive_content = "token=${{var.token}}\\n"
}}

resource "local_file" "note" {{
  path    = "note.txt"
  content = "key ${{var.token}}\\n"
}}

pipeline "probe" {{
  step "echo" {{
    source = "steps/probe.py:echo"
    params = {{ label = "{XSS}", token = var.token }}
  }}
}}

output "token_out" {{
  value     = var.token
  sensitive = true
}}
'''

PROBE_PY = '''"""A step that prints its params (the secret among them) and returns its label."""


def echo(label: str, token: str) -> str:
    print(f"label={label} token={token}")
    return label
'''


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory) -> Project:
    """The quickstart applied twice: run 1 with c=1, run 2 with c=0.5 (train and evaluate rerun)."""
    project = copy_project(QUICKSTART, tmp_path_factory.mktemp("ui") / "quickstart")
    project.git_commit_all()
    project.apply()
    project.apply("-var", "c=0.5")
    return project


@pytest.fixture(scope="session")
def probe(tmp_path_factory) -> Project:
    """The quickstart with a secret in resources, params, logs and outputs, and an HTML payload in a param."""
    project = copy_project(QUICKSTART, tmp_path_factory.mktemp("ui") / "probe")
    project.write("probe.zp.hcl", PROBE_HCL)
    project.write("steps/probe.py", PROBE_PY)
    project.apply()
    return project
