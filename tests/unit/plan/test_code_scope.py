"""A name used in a step counts as a dependency only where Python would look it up in the module."""

from __future__ import annotations

from tests.unit.plan.layout import changed_by, write

STEPS = """
def train(x):
    return x + 1


def split(data):
    {body}
"""


def reruns_split_when_train_changes(tmp_path, body: str) -> bool:
    write(tmp_path, {"steps.py": STEPS.format(body=body)})
    return bool(changed_by(tmp_path, "steps.py:split", "steps.py", "x + 1", "x + 2"))


def test_a_local_variable_named_like_a_function_is_not_a_use(tmp_path):
    assert not reruns_split_when_train_changes(tmp_path, "train = data[:2]\n    return train")


def test_a_parameter_named_like_a_function_is_not_a_use(tmp_path):
    write(tmp_path, {"steps.py": "def train(x):\n    return x + 1\n\ndef split(data, train=None):\n    return train\n"})
    assert changed_by(tmp_path, "steps.py:split", "steps.py", "x + 1", "x + 2") == set()


def test_comprehension_variables_and_lambda_parameters_are_local(tmp_path):
    assert not reruns_split_when_train_changes(tmp_path, "return [train for train in data] + list(map(lambda train: train, data))")


def test_nested_functions_and_their_locals_shadow_the_module(tmp_path):
    assert not reruns_split_when_train_changes(tmp_path, "def train(v):\n        return v\n    return train(data)")
    assert not reruns_split_when_train_changes(
        tmp_path, "train = 0\n    def inner():\n        nonlocal train\n        train += 1\n    inner()\n    return train"
    )


def test_a_real_use_is_a_use_even_next_to_shadowing(tmp_path):
    assert reruns_split_when_train_changes(tmp_path, "out = [train(v) for v in data]\n    return out")
    assert reruns_split_when_train_changes(tmp_path, "def inner(v):\n        return train(v)\n    return inner(data)")
    assert reruns_split_when_train_changes(tmp_path, "global train\n    return train(data)")


def test_the_local_binding_wins_anywhere_in_the_function(tmp_path):
    # Python decides scope per function: the read below is of the local, even before the assignment
    assert not reruns_split_when_train_changes(tmp_path, "if data:\n        return train\n    train = 1")


def test_names_bound_in_a_class_body_are_not_seen_by_its_methods(tmp_path):
    write(tmp_path, {"steps.py": """
def train(x):
    return x + 1


class Wrapper:
    train = staticmethod(lambda v: v)

    def run(self, data):
        return train(data)


def split(data):
    return Wrapper().run(data)
"""})
    assert changed_by(tmp_path, "steps.py:split", "steps.py", "x + 1", "x + 2") == {"steps.py:train"}
