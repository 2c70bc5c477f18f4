"""What a script step's key reads of its Python: the file `python FILE` or `python -m MODULE` runs,
past interpreter flags, and what its top-level code calls."""

from __future__ import annotations

import pytest

from tests.unit.plan.layout import edit, write
from zplan.plan.code_hash import SCRIPT, CodeIndex
from zplan.plan.script_steps import python_file


@pytest.mark.parametrize("argv, expected", [
    (["python", "src/train.py", "out.txt"], "src/train.py"),
    (["python", "-u", "src/train.py"], "src/train.py"),
    (["python3", "-X", "dev", "-W", "ignore", "src/train.py"], "src/train.py"),
    (["python", "-m", "src.train", "out.txt"], "src/train.py"),
    (["python", "-u", "-m", "src"], "src/__main__.py"),
    (["python", "-m", "sklearn"], None),  # a library's module: not project code
    (["sh", "-c", "python -m src.train > log.txt"], "src/train.py"),
    (["bash", "run.sh"], None),
])
def test_the_python_file_a_command_runs(tmp_path, argv, expected):
    write(tmp_path, {"src/__init__.py": "", "src/__main__.py": "", "src/train.py": ""})
    assert python_file(argv, tmp_path) == expected


def test_what_a_script_s_top_level_code_calls_is_keyed(tmp_path):
    write(tmp_path, {"src/__init__.py": "", "src/helper.py": "K = 1\n",
                     "src/train.py": "import sys\nfrom src.helper import K\nopen(sys.argv[1], 'w').write(str(K))\n"})
    before = CodeIndex(tmp_path).info("src/train.py", SCRIPT)
    assert "src/helper.py:K" in before.parts
    edit(tmp_path, "src/helper.py", "K = 1", "K = 2")
    assert CodeIndex(tmp_path).info("src/train.py", SCRIPT).hash != before.hash
