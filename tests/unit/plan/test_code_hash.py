"""Step code is followed through every import style, statically, and each definition keeps its own digest."""

from __future__ import annotations

import json
import os

import pytest

from tests.unit.plan.layout import changed_by, info, write
from zplan.plan.code_hash import CodeError, CodeIndex, part_label

HELPERS = """
    FACTOR = 2

    def h(x):
        return x * FACTOR

    def other(x):
        return x - 1
"""


@pytest.fixture
def project(tmp_path):
    return write(tmp_path, {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/helpers.py": HELPERS, "steps/__init__.py": ""})


STYLES = {
    "from pkg import module": ("from pkg.sub import helpers", "helpers.h(x)"),
    "relative, one level": ("from .lib import helpers", "helpers.h(x)"),
    "relative, two levels": ("from ..pkg.sub import helpers", "helpers.h(x)"),
    "import a.b": ("import pkg.sub.helpers", "pkg.sub.helpers.h(x)"),
    "import a.b as ab": ("import pkg.sub.helpers as ab", "ab.h(x)"),
    "from module import name": ("from pkg.sub.helpers import h", "h(x)"),
    "from module import name as alias": ("from pkg.sub.helpers import h as g", "g(x)"),
    "import inside the function": ("", "__import__('os')\n    from pkg.sub import helpers\n    return helpers.h(x)"),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_import_style_reaches_the_helper_and_only_it(project, style):
    imports, call = STYLES[style]
    write(project, {"steps/lib/__init__.py": "", "steps/lib/helpers.py": HELPERS})
    target = "steps/lib/helpers.py" if "one level" in style else "pkg/sub/helpers.py"
    body = call if call.startswith("__import__") else f"return {call}"
    write(project, {"steps/train.py": f"{imports}\n\ndef train(x):\n    {body}\n"})
    assert changed_by(project, "steps/train.py:train", target, "x * FACTOR", "x * FACTOR + 1") == {f"{target}:h"}
    assert changed_by(project, "steps/train.py:train", target, "FACTOR = 2", "FACTOR = 3") == {f"{target}:FACTOR"}
    assert changed_by(project, "steps/train.py:train", target, "x - 1", "x - 2") == set()


def test_init_re_exports_are_followed_to_the_defining_file(project):
    write(project, {
        "pkg/__init__.py": "from .sub.helpers import h\nfrom . import sub\n",
        "steps/train.py": "from pkg import h\nimport pkg\n\ndef train(x):\n    return h(x) + pkg.h(x)\n",
    })
    assert changed_by(project, "steps/train.py:train", "pkg/sub/helpers.py", "x * FACTOR", "x + FACTOR") == {"pkg/sub/helpers.py:h"}


def test_default_values_decorators_and_partial_are_dependencies(project):
    write(project, {
        "pkg/sub/tools.py": "def deco(f):\n    return f\n\ndef build():\n    return {'a': 1}\n\nTABLE = build()\n",
        "steps/train.py": """
            import functools
            from pkg.sub import helpers, tools

            fit = functools.partial(helpers.other, 3)

            @tools.deco
            def train(x, factor=helpers.FACTOR):
                return fit() + tools.TABLE['a']
        """,
    })
    step = "steps/train.py:train"
    assert changed_by(project, step, "pkg/sub/tools.py", "return f", "return f  or f") == {"pkg/sub/tools.py:deco"}
    assert changed_by(project, step, "pkg/sub/helpers.py", "FACTOR = 2", "FACTOR = 5") == {"pkg/sub/helpers.py:FACTOR"}
    assert changed_by(project, step, "pkg/sub/helpers.py", "x - 1", "x - 2") == {"pkg/sub/helpers.py:other"}
    # a constant built by module-level code: the function that builds it counts
    assert changed_by(project, step, "pkg/sub/tools.py", "{'a': 1}", "{'a': 2}") == {"pkg/sub/tools.py:build"}


def test_class_attributes_and_methods_reached_through_an_instance(project):
    write(project, {
        "pkg/model.py": """
            from pkg.sub.helpers import h

            class Model:
                rate = 0.1

                def predict(self, x):
                    return h(x) * self.rate
        """,
        "steps/train.py": "from pkg.model import Model\n\ndef train(x):\n    m = Model()\n    return m.predict(x)\n",
    })
    step = "steps/train.py:train"
    assert changed_by(project, step, "pkg/model.py", "rate = 0.1", "rate = 0.2") == {"pkg/model.py:Model"}
    assert changed_by(project, step, "pkg/sub/helpers.py", "x * FACTOR", "x + FACTOR") == {"pkg/sub/helpers.py:h"}


def test_a_use_that_cannot_be_resolved_keys_the_whole_module(project):
    write(project, {"steps/train.py": "from pkg.sub import helpers\n\ndef train(name):\n    return getattr(helpers, name)(1)\n"})
    changed = changed_by(project, "steps/train.py:train", "pkg/sub/helpers.py", "x - 1", "x - 2")
    assert changed == {"pkg/sub/helpers.py:*", "pkg/sub/helpers.py:other"}


def test_module_level_calls_count_for_every_use_of_the_module(project):
    write(project, {
        "pkg/seeded.py": "import random\n\nrandom.seed(1)\n\ndef draw():\n    return random.random()\n",
        "steps/train.py": "from pkg.seeded import draw\n\ndef train():\n    return draw()\n",
    })
    assert changed_by(project, "steps/train.py:train", "pkg/seeded.py", "seed(1)", "seed(2)") == {"pkg/seeded.py:<module>"}


def test_star_imports_are_followed(project):
    write(project, {"steps/train.py": "from pkg.sub.helpers import *\n\ndef train(x):\n    return h(x)\n"})
    assert changed_by(project, "steps/train.py:train", "pkg/sub/helpers.py", "x * FACTOR", "x + FACTOR") == {"pkg/sub/helpers.py:h"}
    assert changed_by(project, "steps/train.py:train", "pkg/sub/helpers.py", "x - 1", "x - 2") == set()


def test_third_party_imports_are_named_not_followed(project):
    write(project, {"steps/train.py": """
        import numpy as np
        import os.path
        from sklearn.linear_model import LogisticRegression
        import pandas  # imported, never used by train: importing it runs its code all the same

        def train(x):
            return LogisticRegression().fit(np.array(x), os.path.sep)
    """})
    assert info(project, "steps/train.py:train").modules == ["numpy", "pandas", "sklearn"]  # os: standard library


def test_a_missing_function_is_a_clear_error(project):
    write(project, {"steps/train.py": "def fit():\n    pass\n"})
    with pytest.raises(CodeError, match="has no function 'train'"):
        info(project, "steps/train.py:train")


def test_part_labels_name_module_function_and_file():
    assert part_label("pkg/sub/helpers.py:h") == "helpers.h in pkg/sub/helpers.py"
    assert part_label("pkg/__init__.py:h") == "pkg.h in pkg/__init__.py"
    assert part_label("pkg/sub/helpers.py:*") == "pkg/sub/helpers.py"


def test_a_syntax_error_in_a_helper_names_its_file_and_line(project):
    write(project, {"pkg/broken.py": "def f(:\n    pass\n", "steps/train.py": "from pkg.broken import f\n\ndef train():\n    return f()\n"})
    with pytest.raises(CodeError, match=r"syntax error in pkg/broken.py:1"):
        info(project, "steps/train.py:train")


def test_a_call_chain_thousands_deep_is_followed(project):
    chain = "".join(f"def f{i}():\n    return f{i + 1}()\n\n" for i in range(3000)) + "def f3000():\n    return 0\n"
    write(project, {"steps/train.py": chain})
    assert len(info(project, "steps/train.py:f0").parts) == 3001


def test_an_expression_nested_too_deeply_is_a_clear_error(project):
    write(project, {"steps/train.py": "def train():\n    return " + "(" * 190 + "1" + ")" * 190 + " + 1" * 3000 + "\n"})
    with pytest.raises(CodeError, match="nested too deeply"):
        info(project, "steps/train.py:train")


def test_names_looked_up_by_string_key_the_whole_module(project):
    write(project, {"steps/train.py": "def helper():\n    return 1\n\ndef train(name):\n    return globals()[name]()\n"})
    assert changed_by(project, "steps/train.py:train", "steps/train.py", "return 1", "return 2") == {"steps/train.py:*", "steps/train.py:helper"}


@pytest.mark.parametrize("call", ["importlib.import_module('pkg.sub.helpers')", "import_module('pkg.sub.helpers')",
                                  "__import__('pkg.sub.helpers')"])
def test_a_module_imported_by_its_written_name_is_followed(project, call):
    write(project, {"steps/train.py": f"import importlib\nfrom importlib import import_module\n\ndef train(x):\n    return {call}\n"})
    assert "pkg/sub/helpers.py:h" in changed_by(project, "steps/train.py:train", "pkg/sub/helpers.py", "x * FACTOR", "x + FACTOR")


def test_a_module_imported_by_a_computed_name_keys_every_module_of_the_project(project):
    write(project, {"steps/train.py": "import importlib\n\ndef train(name):\n    return importlib.import_module('pkg.sub.' + name).h(1)\n",
                    "pkg/sub/more.py": "def h(x):\n    return x\n", ".venv/lib/skip.py": "X = 1\n"})
    step = "steps/train.py:train"
    assert "pkg/sub/helpers.py:h" in changed_by(project, step, "pkg/sub/helpers.py", "x * FACTOR", "x + FACTOR")
    assert "pkg/sub/more.py:h" in changed_by(project, step, "pkg/sub/more.py", "return x", "return x + 1")
    assert not any(".venv" in part for part in info(project, step).parts)


def test_the_code_of_the_packages_a_module_sits_in_runs_first_and_counts(project):
    write(project, {"pkg/__init__.py": "import os\nos.environ['MODE'] = 'a'\n", "pkg/sub/__init__.py": "print('loading')\n",
                    "steps/train.py": "from pkg.sub.helpers import h\n\ndef train(x):\n    return h(x)\n"})
    step = "steps/train.py:train"
    assert changed_by(project, step, "pkg/__init__.py", "'a'", "'b'") == {"pkg/__init__.py:<module>"}
    assert changed_by(project, step, "pkg/sub/__init__.py", "loading", "loaded") == {"pkg/sub/__init__.py:<module>"}
    write(project, {"steps/__init__.py": "import random\nrandom.seed(1)\n"})  # the step's own package
    assert changed_by(project, step, "steps/__init__.py", "seed(1)", "seed(2)") == {"steps/__init__.py:<module>"}


@pytest.mark.parametrize("where", ["module", "function"])
def test_a_name_imported_in_both_branches_of_an_if_keys_both(project, where):
    write(project, {"pkg/fast.py": "def h(x):\n    return x * 2\n", "pkg/slow.py": "def h(x):\n    return x * 3\n"})
    imports = "if sys.version_info >= (3, 8):\n    from pkg.fast import h\nelse:\n    from pkg.slow import h\n"
    if where == "module":
        code = f"import sys\n{imports}\ndef train(x):\n    return h(x)\n"
    else:
        code = "import sys\n\ndef train(x):\n" + "".join(f"    {line}\n" for line in imports.splitlines()) + "    return h(x)\n"
    write(project, {"steps/train.py": code})
    step = "steps/train.py:train"
    assert changed_by(project, step, "pkg/fast.py", "x * 2", "x * 20") == {"pkg/fast.py:h"}
    assert changed_by(project, step, "pkg/slow.py", "x * 3", "x * 30") == {"pkg/slow.py:h"}


def test_an_import_with_a_fallback_follows_the_import_and_keys_the_fallback(project):
    write(project, {"steps/train.py": "try:\n    from pkg.sub.helpers import h\nexcept ImportError:\n    h = None\n\ndef train(x):\n    return h(x)\n"})
    step = "steps/train.py:train"
    assert changed_by(project, step, "pkg/sub/helpers.py", "x * FACTOR", "x + FACTOR") == {"pkg/sub/helpers.py:h"}
    assert changed_by(project, step, "steps/train.py", "h = None", "h = abs") == {"steps/train.py:h"}


def test_a_damaged_cache_entry_is_read_again(project, tmp_path):
    from zplan.plan.code_hash import CodeIndex

    write(project, {"steps/train.py": "def train():\n    return 1\n"})
    cache = tmp_path / "code.json"
    first = CodeIndex(project, cache)
    expected = first.info("steps/train.py", "train")
    first.save()
    cache.write_text(cache.read_text().replace('"files"', '"filez"'))
    assert CodeIndex(project, cache).info("steps/train.py", "train") == expected


def test_an_edit_that_puts_size_and_mtime_back_is_read_again(project, tmp_path, hashing_clock):
    write(project, {"steps/train.py": "def train(x):\n    return x + 1\n"})
    cache, path = tmp_path / "code.json", project / "steps/train.py"
    first = CodeIndex(project, cache)
    before = first.info("steps/train.py", "train").hash
    first.save()
    st = path.stat()
    path.write_text("def train(x):\n    return x + 2\n")  # same size; mtime put back as `touch -r` would
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert CodeIndex(project, cache).info("steps/train.py", "train").hash != before


def test_code_read_just_after_an_edit_is_not_kept_for_the_next_plan(project, tmp_path, hashing_clock):
    """A second edit of the same size within the file system's timestamp tick would keep every stamp."""
    from zplan.hashing import RACY_NS

    write(project, {"steps/train.py": "def train(x):\n    return x + 1\n"})
    hashing_clock((project / "steps/train.py").stat().st_ctime_ns + RACY_NS // 2)
    cache = tmp_path / "code.json"
    index = CodeIndex(project, cache)
    index.info("steps/train.py", "train")
    index.save()
    assert "steps/train.py:train" not in json.loads(cache.read_text())["entries"]


def test_a_library_beside_the_project_on_the_path_is_step_code_and_zplan_is_not(tmp_path, monkeypatch):
    """`pip install -e ../libs/common` (or PYTHONPATH): a source folder, not a release with a version."""
    import importlib
    import sys

    project, lib = tmp_path / "proj", tmp_path / "libs/common/src"
    write(lib, {"common/__init__.py": "", "common/core.py": "from .util import g\n\ndef f(x):\n    return g(x)\n",
                "common/util.py": "def g(x):\n    return x + 1\n"})
    write(project, {"steps.py": "import zplan\nfrom common.core import f\n\n@zplan.step()\ndef a(x):\n    return f(x)\n"})
    monkeypatch.setattr(sys, "path", [str(lib), *sys.path])
    importlib.invalidate_caches()
    assert changed_by(project, "steps.py:a", "../libs/common/src/common/util.py", "x + 1", "x + 2") == {"../libs/common/src/common/util.py:g"}
    parts = info(project, "steps.py:a").parts
    assert not any("zplan" in part for part in parts), parts


def test_the_materializers_registered_by_every_module_a_step_imports_are_read_used_or_not(project):
    """Importing a module runs it: what it registers may store the step's outputs, though nothing else of it counts."""
    registers = "import zplan\n\n@zplan.materializer({kind}{named})\nclass {cls}:\n    def save(self, value, folder): ...\n    def load(self, folder): ...\n"
    write(project, {
        "mats/__init__.py": registers.format(kind="list", named=', name="lines"', cls="Lines"),
        "mats/frames.py": "import pandas as pd\n" + registers.format(kind="pd.DataFrame", named="", cls="Frames"),
        "mats/inner.py": registers.format(kind="(int, float)", named=', name="numbers"', cls="Numbers"),
        "mats/script.py": "if __name__ == '__main__':\n    import mats.unused\n",
        "mats/unused.py": registers.format(kind="str", named=', name="never"', cls="Never"),
        "steps/train.py": "import mats.frames  # registers\nfrom mats import script\n\ndef train(x):\n    from mats import inner\n    return x\n",
    })
    found = info(project, "steps/train.py:train")
    assert found.materializers == {
        "lines": "list in mats/__init__.py", "mats.frames.Frames": "pd.DataFrame in mats/frames.py", "numbers": "(int, float) in mats/inner.py"}
    assert list(found.parts) == ["steps/train.py:train"]  # the code it does not call is not its code
