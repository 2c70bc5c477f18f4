"""The text plan, rendered from the JSON plan: only what changes by default, everything with -verbose."""

from __future__ import annotations

from zplan.render.plan_text import COLLAPSE_CACHED_OVER, render

BEFORE = {"path": "out/a.txt", "content": "old", "mode": "0644", "id": "/p/out/a.txt", "sha256": "ab12", "sensitive_content": None}


def res(action: str, before: dict | None = None, after: dict | None = None, **extra) -> dict:
    r = {
        "address": "resource.local_file.a", "type": "local_file", "name": "a", "provider": "local", "action": action,
        "before": before, "after": after, "after_unknown": [], "sensitive": ["sensitive_content"],
        "replace_because": [], "reasons": [], "changed": [], "depends_on": [],
    }
    return r | extra


def step(name: str, action: str, *messages: str) -> dict:
    codes = ["never_ran"] if messages == ("never ran",) else ["params_changed"] * len(messages)
    return {
        "address": f"pipeline.p.step.{name}", "pipeline": "p", "step": name, "action": action,
        "reasons": [{"code": c, "message": m} for c, m in zip(codes, messages)],
        "cached_from": {"run": 3, "finished_at": "2026-11-20T09:00:00+00:00"} if action == "cached" else None,
    }


def doc(resources=(), steps=(), outputs=None, destroy=False) -> dict:
    resources, steps = list(resources), list(steps)
    count = lambda *actions: sum(r["action"] in actions for r in resources)  # noqa: E731
    return {
        "stack": "local", "destroy": destroy, "resources": resources, "steps": steps, "outputs": outputs or {},
        "summary": {"add": count("create", "replace"), "change": count("update"), "destroy": count("delete", "replace"),
                    "steps_run": sum(s["action"] == "run" for s in steps), "steps_cached": sum(s["action"] == "cached" for s in steps)},
    }


def text(d: dict, verbose: bool = False) -> str:
    return "\n".join(t for _, t in render(d, verbose))


def updated() -> dict:
    after = {"path": "out/a.txt", "content": "new", "mode": "0644"}
    return res("update", BEFORE, after, changed=["content"], reasons=[{"code": "attributes_changed", "message": "content changed"}])


def test_update_shows_only_changed_attributes_and_counts_the_rest():
    out = text(doc([updated()]))
    assert "~ resource.local_file.a" in out and "will be updated in place (content changed)" in out
    assert '~ content = "old" -> "new"' in out
    assert "# (5 unchanged attributes hidden)" in out
    for hidden in ("path =", "mode =", "id =", "sha256 ="):
        assert hidden not in out


def test_verbose_shows_every_attribute_and_hides_nothing():
    out = text(doc([updated()]), verbose=True)
    assert '~ content = "old" -> "new"' in out
    for shown in ('path = "out/a.txt"', 'mode = "0644"', 'id = "/p/out/a.txt"', 'sha256 = "ab12"', "sensitive_content = null"):
        assert shown in out
    assert "hidden" not in out


def test_one_hidden_attribute_is_singular():
    r = res("update", {"content": "a", "mode": "0644"}, {"content": "b", "mode": "0644"}, changed=["content"])
    assert "# (1 unchanged attribute hidden)" in text(doc([r]))


def test_unchanged_resources_appear_only_with_verbose():
    r = res("no-op", BEFORE, {"path": "out/a.txt", "content": "old", "mode": "0644"})
    assert "resource.local_file.a" not in text(doc([r]))
    verbose = text(doc([r]), verbose=True)
    assert "resource.local_file.a" in verbose and "unchanged" in verbose and "~" not in verbose


def test_a_changed_sensitive_attribute_is_shown_changed_but_masked():
    """Both sides read "(sensitive)": only the plan's `changed` list tells the change apart."""
    before = {**BEFORE, "content": None, "sensitive_content": "(sensitive)"}
    after = {"path": "out/a.txt", "sensitive_content": "(sensitive)"}
    r = res("update", before, after, changed=["sensitive_content"])
    out = text(doc([r]))
    assert "~ sensitive_content = <sensitive> -> <sensitive>" in out
    assert "# (5 unchanged attributes hidden)" in out


def test_create_lists_every_attribute_with_unknowns():
    r = res("create", None, {"path": "out/a.txt", "content": "x"}, after_unknown=["id", "sha256"])
    out = text(doc([r]))
    assert "+ resource.local_file.a" in out and "will be created" in out
    assert '+ path = "out/a.txt"' in out and "+ id = (known after apply)" in out and "+ sha256 = (known after apply)" in out
    assert "hidden" not in out


def test_replace_marks_the_attribute_that_forces_it():
    r = res("replace", BEFORE, {**BEFORE, "path": "out/b.txt"}, replace_because=["path"], after_unknown=["id", "sha256"], changed=["path"])
    out = text(doc([r]))
    assert "-/+ resource.local_file.a" in out and "must be replaced (path forces replacement)" in out
    assert '~ path = "out/a.txt" -> "out/b.txt" # forces replacement' in out
    assert '~ id = "/p/out/a.txt" -> (known after apply)' in out


def test_delete_lists_what_goes():
    out = text(doc([res("delete", {"path": "out/a.txt", "content": "x"}, None)]))
    assert "- resource.local_file.a" in out and "will be destroyed" in out and '- content = "x"' in out


def test_steps_say_why_they_run():
    out = text(doc(steps=[step("load", "run", "never ran"), step("train", "run", "params.c: 1.0 -> 0.5", "code changed"), step("eval", "cached")]))
    assert "+ pipeline.p.step.load" in out and "will run: never ran" in out
    assert "~ pipeline.p.step.train" in out and "will rerun: params.c: 1.0 -> 0.5; code changed" in out
    assert "= pipeline.p.step.eval" in out and "cached (run 3, 2026-11-20)" in out
    assert out.splitlines()[-1] == "Plan: 0 to add, 0 to change, 0 to destroy. Steps: 2 to run, 1 cached."


def test_many_cached_steps_collapse_into_one_line_unless_verbose():
    steps = [step(f"s{i}", "cached") for i in range(COLLAPSE_CACHED_OVER + 1)] + [step("new", "run", "never ran")]
    out = text(doc(steps=steps))
    assert f"= {COLLAPSE_CACHED_OVER + 1} steps cached (use -verbose to list them)" in out
    assert "pipeline.p.step.s0 " not in out and "pipeline.p.step.new" in out
    verbose = text(doc(steps=steps), verbose=True)
    assert all(f"pipeline.p.step.s{i} " in verbose for i in range(COLLAPSE_CACHED_OVER + 1))


def test_outputs_hide_sensitive_values():
    outputs = {
        "token": {"known": True, "sensitive": True, "value": "(sensitive)"},
        "accuracy": {"known": True, "sensitive": False, "value": 0.93},
        "later": {"known": False, "sensitive": False, "value": None},
    }
    out = text(doc(outputs=outputs))
    assert "token = <sensitive>" in out and "accuracy = 0.93" in out and "later = (known after apply)" in out


def test_outputs_show_numbers_as_hcl_writes_them(capsys):
    from types import SimpleNamespace

    from zplan.render.state_view import print_output_value, print_outputs

    value = [1500.0, 3.0, 0.5, {"k": 1e-05}, "é"]
    out = text(doc(outputs={"o": {"known": True, "sensitive": False, "value": value}}))
    assert 'o = [1500, 3, 0.5, {"k": 0.00001}, "é"]' in out
    print_outputs([SimpleNamespace(name="o", sensitive=False, value=value)])  # after apply, `zplan output`
    print_output_value(SimpleNamespace(sensitive=False, value=6.0), raw=False)  # `zplan output o`
    assert capsys.readouterr().out.endswith('  o = [1500, 3, 0.5, {"k": 0.00001}, "é"]\n6\n')


def test_long_values_are_shortened():
    r = res("update", {"content": "a"}, {"content": "b" * 500}, changed=["content"])
    line = next(l for l in text(doc([r])).splitlines() if "content" in l)
    assert line.endswith("...") and len(line) < 200


def test_destroy_plan_has_its_own_title_and_summary():
    out = text(doc([res("delete", BEFORE, None)], destroy=True))
    assert out.splitlines()[0] == 'zplan will destroy these resources (stack "local"):'
    assert out.splitlines()[-1] == "Plan: 0 to add, 0 to change, 1 to destroy."


def test_outputs_show_letters_of_any_script_as_they_are_but_escape_controls():
    outputs = {"a": {"value": "café ☕", "known": True, "sensitive": False}, "b": {"value": "x\u202ey\x9b", "known": True, "sensitive": False}}
    out = text(doc(outputs=outputs))
    assert 'a = "café ☕"' in out
    assert 'b = "x\\u202ey\\u009b"' in out  # a direction override and a C1 control would act on the terminal


def test_resources_that_do_not_change_are_not_called_nothing_declared():
    unchanged = res("no-op", BEFORE, BEFORE)
    assert "nothing declared" not in text(doc([unchanged]))
    assert "nothing declared" in text(doc())
