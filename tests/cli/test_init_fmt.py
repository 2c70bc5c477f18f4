"""`zplan init` in an empty folder gives a working project; `zplan fmt` and its -check exit code."""

from __future__ import annotations

from tests.cli.helpers import Project, ran


def test_fmt_check_fails_on_an_unformatted_file_until_fmt_rewrites_it(project: Project):
    assert project.run("fmt", "-check").code == 0  # the test project is canonical already
    canonical = project.read("main.zp.hcl")
    project.replace("main.zp.hcl", "  type    = number\n  default = 1.0", "    type=number\n  default     = 1.0")
    untidy = project.read("main.zp.hcl")

    result = project.run("fmt", "-check")
    assert result.code == 3, str(result)
    assert "main.zp.hcl" in result.out
    assert project.read("main.zp.hcl") == untidy  # -check never writes

    project.ok("fmt")
    assert project.read("main.zp.hcl") == canonical
    assert project.run("fmt", "-check").code == 0


def test_fmt_keeps_a_byte_order_mark_and_crlf_line_endings(project: Project):
    project.path("t.zp.hcl").write_bytes(b'\xef\xbb\xbflocals {\r\na=1\r\n  s = "x"\r\n}\r\n')
    project.ok("fmt")
    assert project.path("t.zp.hcl").read_bytes() == b'\xef\xbb\xbflocals {\r\n  a = 1\r\n  s = "x"\r\n}\r\n'
    assert project.run("fmt", "-check").code == 0


def test_fmt_of_a_missing_file_is_a_clear_error(project: Project):
    result = project.run("fmt", "nope.zp.hcl")
    assert result.code == 1, str(result)
    assert "nope.zp.hcl: cannot read the file: No such file or directory" in result.err
    assert "internal error" not in result.text


def test_fmt_rewrites_configuration_and_vars_files_only(project: Project):
    # any file named was rewritten as HCL: `zplan fmt .env` turned A=1 into A = 1, which a shell no longer reads
    project.path(".env").write_text("A=1\n")
    project.path("notes.txt").write_text("x=1\n")
    for name in (".env", "notes.txt"):
        result = project.run("fmt", name)
        assert result.code == 1 and f"{name} is not a configuration or vars file" in result.err, str(result)
        assert "Traceback" not in result.err
    assert project.read(".env") == "A=1\n" and project.read("notes.txt") == "x=1\n"
    project.path("prod.zpvars").write_text("c=2\n")
    project.ok("fmt", "prod.zpvars")
    assert project.read("prod.zpvars") == "c = 2\n"


def test_init_in_an_empty_folder_creates_an_example_that_applies(tmp_path):
    project = Project(tmp_path)
    result = project.ok("init")
    for created in (".zplan/", "main.zp.hcl", "steps.py"):
        assert f"created {created}" in result.out
    assert project.run("fmt", "-check").code == 0

    result = project.apply()
    assert ran(result) == {"generate", "summarise"}
    mean = float(project.ok("output", "mean").out)
    assert 0.4 < mean < 0.6

    example = project.read("main.zp.hcl")
    result = project.ok("init")  # a second init leaves the project alone
    assert "created" not in result.out and project.read("main.zp.hcl") == example


def test_init_beside_a_steps_py_of_ones_own_makes_no_example_and_says_what_to_do(tmp_path):
    project = Project(tmp_path)
    project.write("steps.py", "# my own code\n")
    result = project.ok("init")
    assert project.read("steps.py") == "# my own code\n" and not project.path("main.zp.hcl").exists()
    # not "Next: zplan plan", which would send the user back to init
    assert "No *.zp.hcl file here, and no example was made" in result.out and "Next: `zplan plan`" not in result.out
