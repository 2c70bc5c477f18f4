"""Through the real CLI: an installed library a step's code imports only for what importing it does
(``import acme  # registers a materializer``) counts in the step's key like one it uses; and which
materializer stores a step's outputs never depends on the order of its imports."""

from __future__ import annotations

import pytest

from tests.cli.helpers import LINES_MATERIALIZER, Project, cli_env, reasons, steps_by_action, with_local_stack

FILES = {
    "main.zp.hcl": with_local_stack("""
        pipeline "p" {
          step "make" {
            source = "steps/make.py:make"
          }
          step "other" {
            source = "steps/other.py:other"
          }
        }
    """),
    "steps/__init__.py": "",
    "steps/make.py": """
        import beta


        def make() -> list:
            return [1, 2, beta.THREE]
    """,
    "steps/other.py": """
        def other() -> int:
            return 1
    """,
    # an installed library (on the path through PYTHONPATH, with its metadata) registering how lists are stored
    "vendor/acme/__init__.py": """
        import zplan


        @zplan.materializer(list, name="acme.lines")
        class Lines:
            def save(self, value, folder):
                (folder / "lines.txt").write_text("\\n".join(map(str, value)))

            def load(self, folder):
                return [int(line) for line in (folder / "lines.txt").read_text().splitlines()]
    """,
    "vendor/beta/__init__.py": "THREE = 3\n",
    "vendor/beta-2.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: beta\nVersion: 2.0\n",
    "vendor/beta-2.0.dist-info/top_level.txt": "beta\n",
    "vendor/acme-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: acme\nVersion: 1.0\n",
    "vendor/acme-1.0.dist-info/top_level.txt": "acme\n",
}


class Vendored(Project):
    def run(self, *args: str, **kw):
        return super().run(*args, env=cli_env(PYTHONPATH=str(self.root / "vendor")), **kw)


@pytest.fixture
def project(tmp_path) -> Vendored:
    return Vendored(tmp_path / "project").write_all(FILES)


def _upgrade(project: Vendored, old: str, new: str) -> None:
    vendor = project.root / "vendor"
    (vendor / f"acme-{old}.dist-info").rename(vendor / f"acme-{new}.dist-info")
    project.replace(f"vendor/acme-{new}.dist-info/METADATA", f"Version: {old}", f"Version: {new}")


@pytest.mark.parametrize("where, edit", [
    ("at the module's top", ("steps/make.py", "import beta\n", "import acme  # registers a materializer\nimport beta\n")),
    ("in the step's body", ("steps/make.py", "    return [1, 2, beta.THREE]", "    import acme  # noqa: F401\n\n    return [1, 2, beta.THREE]")),
    ("in a module it imports", ("steps/make.py", "def make", "import steps.setup  # noqa: F401\n\n\ndef make")),
])
def test_a_library_imported_only_for_its_side_effect_keys_the_step(project, where, edit):
    project.write("steps/setup.py", "import acme  # registers a materializer\n")
    project.apply()
    project.replace(*edit)
    doc = project.plan_json()
    assert reasons(doc)["make"][-1] == "acme (none) -> 1.0", where
    project.apply()
    assert project.step_records()["make"]["outputs"]["output"]["materializer"] == "acme.lines"  # what the rerun changed
    _upgrade(project, "1.0", "1.1")
    doc = project.plan_json()
    assert reasons(doc)["make"] == ["acme 1.0 -> 1.1"], where
    assert steps_by_action(doc) == {"run": {"make"}, "cached": {"other"}}
    project.apply()
    assert project.run("plan", "-detailed-exitcode").code == 0


def _two_registrations_for_lists(project: Vendored, second: str = "csvlist") -> None:
    """steps/a.py and steps/b.py each register a materializer for lists; make imports both."""
    project.write("steps/a.py", LINES_MATERIALIZER)
    project.write("steps/b.py", LINES_MATERIALIZER.replace('name="lines"', f'name="{second}"').replace("lines.txt", "b.txt"))
    project.replace("steps/make.py", "import beta\n", "import beta\nimport steps.a  # registers\nimport steps.b  # registers\n")


@pytest.mark.parametrize("second", ["csvlist", "lines"])
def test_two_modules_registering_a_materializer_for_one_type_are_refused_naming_both(project, second):
    """The one imported last would store make's list: the order of two import lines would choose it, unseen by the key."""
    _two_registrations_for_lists(project, second)
    ordered = "import steps.a  # registers\nimport steps.b  # registers\n"
    for swapped in (False, True):  # either order
        if swapped:
            project.replace("steps/make.py", ordered, "import steps.b  # registers\nimport steps.a  # registers\n")
        refused = project.run("plan")
        assert refused.code == 1 and "Traceback" not in refused.err, str(refused)
        assert "steps/a.py:5" in refused.err and "steps/b.py:5" in refused.err, str(refused)
        assert "main.zp.hcl:" in refused.err and "keep one" in refused.err, str(refused)
    project.write("steps/b.py", "import zplan\n")  # one registration left: planned and applied as usual
    project.apply()
    assert project.step_records()["make"]["outputs"]["output"]["materializer"] == "lines"
