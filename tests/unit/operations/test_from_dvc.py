"""`zplan import-dvc` on the dvc.yaml forms a converter must translate, checked on the text it writes."""

from __future__ import annotations

import pytest

from tests.unit.plan.inprocess import plan
from zplan import diags
from zplan.config import hcl
from zplan.operations.from_dvc import convert, find_dvc_yamls, import_dvc

DVC_YAML = """
vars:
  - custom.yaml
  - threshold: 0.5
stages:
  train:
    foreach: ${models}
    do:
      cmd: python train.py --model ${item.name} --depth ${item.depth} --lr ${train.lr} out/${key}
      deps: [train.py]
      params: [train.lr]
      outs:
        - out/${key}
  report:
    foreach: [a, b]
    do:
      cmd: echo ${item} > report-${item}.txt
      outs:
        - report-${item}.txt
  evaluate:
    cmd:
      - python eval.py --threshold ${threshold}
      - echo done
    wdir: sub
    deps: [../out, eval.py]
    params:
      - other.json:
          - alpha
      - whole.yaml:
    metrics:
      - eval/metrics.json:
          cache: false
    plots: [eval/roc.csv]
  grid:
    matrix:
      a: [1, 2]
    cmd: echo ${item.a} $HOME
plots:
  - eval/roc.csv
"""


@pytest.fixture
def converted(tmp_path):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (tmp_path / "custom.yaml").write_text("models:\n  small: {name: s, depth: 2}\n  big: {name: b, depth: 8}\n")
    return convert(tmp_path / "dvc.yaml")


def test_foreach_stages_become_for_each_with_each_key_and_value(converted):
    text = converted.text
    assert "for_each = local.custom_params.models" in text
    assert 'command  = "python train.py --model ${dvc_text(each.value.name)} --depth ${dvc_text(each.value.depth)} --lr ${dvc_text(local.params.train.lr)} out/${each.key}"' in text
    assert 'outs     = ["out/${each.key}"]' in text
    assert 'for_each = toset(["a", "b"])' in text and '"echo ${dvc_text(each.value)} > report-${dvc_text(each.value)}.txt"' in text
    assert 'params_file("params.yaml")' in text and 'custom_params = params_file("custom.yaml")' in text
    hcl.parse_text(text, "dvc.zp.hcl")  # what it writes parses (for_each itself is planned elsewhere)


def test_a_foreach_over_a_list_is_keyed_as_dvc_keys_its_instances(tmp_path):
    # DVC keys a list of plain values by each value and a list of mappings by index (stage@0, ${key});
    # for_each takes no list, so each becomes a map with those keys
    (tmp_path / "dvc.yaml").write_text("""vars:
  - sizes: [8, 16]
stages:
  nums:
    foreach: [1, 2]
    do:
      cmd: echo ${item} > n-${item}.txt
      outs:
        - n-${item}.txt
  runs:
    foreach:
      - {name: a, lr: 0.1}
      - {name: b, lr: 0.2}
    do:
      cmd: echo ${item.lr} > r-${key}.txt
      outs:
        - r-${key}.txt
  langs:
    foreach: ${langs}
    do:
      cmd: echo ${item} > l-${item}.txt
      outs:
        - l-${item}.txt
  sizes:
    foreach: ${sizes}
    do:
      cmd: echo ${item} > s-${key}.txt
      outs:
        - s-${key}.txt
  grid:
    foreach: ${grid}
    do:
      cmd: echo ${item.depth} > g-${key}.txt
      outs:
        - g-${key}.txt
""")
    (tmp_path / "params.yaml").write_text("langs: [en, fr]\ngrid:\n  - {depth: 2}\n  - {depth: 4}\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    commands = {s.address.removeprefix("pipeline.dvc.step."): s.params[":command"][-1] for s in planned.steps}
    assert commands == {
        'nums["1"]': "echo 1 > n-1.txt", 'nums["2"]': "echo 2 > n-2.txt",
        'runs["0"]': "echo 0.1 > r-0.txt", 'runs["1"]': "echo 0.2 > r-1.txt",
        'langs["en"]': "echo en > l-en.txt", 'langs["fr"]': "echo fr > l-fr.txt",
        'sizes["8"]': "echo 8 > s-8.txt", 'sizes["16"]': "echo 16 > s-16.txt",
        'grid["0"]': "echo 2 > g-0.txt", 'grid["1"]': "echo 4 > g-1.txt",
    }


def test_floats_of_dvc_yaml_fill_in_text_as_dvc_writes_them(tmp_path):
    # DVC writes 1.0 as 1.0 and 1e-05 as 1e-05 (HCL: 1 and 0.00001): the paths a step writes and reads must agree
    (tmp_path / "dvc.yaml").write_text("""vars:
  - scales: [0.5, 2.0]
stages:
  train:
    foreach: [0.1, 1.0]
    do:
      cmd: echo ${item} > model-${item}.txt
      outs:
        - model-${item}.txt
  scale:
    foreach: ${scales}
    do:
      cmd: echo ${item} > scale-${item}.txt
      outs:
        - scale-${item}.txt
  grid:
    matrix:
      lr: [1e-05]
    cmd: echo ${item.lr} > grid-${key}.txt
    outs:
      - grid-${key}.txt
  pick:
    cmd: cat model-1.0.txt scale-2.0.txt grid-1e-05.txt > best.txt
    deps: [model-1.0.txt, scale-2.0.txt, grid-1e-05.txt]
    outs: [best.txt]
""")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    commands = {s.address.removeprefix("pipeline.dvc.step."): s.params[":command"][-1] for s in planned.steps if "[" in s.address}
    assert commands == {'train["0.1"]': "echo 0.1 > model-0.1.txt", 'train["1.0"]': "echo 1.0 > model-1.0.txt",
                        'scale["0.5"]': "echo 0.5 > scale-0.5.txt", 'scale["2.0"]': "echo 2.0 > scale-2.0.txt",
                        'grid["1e-05"]': "echo 1e-05 > grid-1e-05.txt"}
    inputs = planned.step("pipeline.dvc.step.pick").inputs.values()
    assert {(i.step, i.output) for i in inputs} == {('pipeline.dvc.step.train["1.0"]', "model-1.0.txt"),
                                                    ('pipeline.dvc.step.scale["2.0"]', "scale-2.0.txt"),
                                                    ('pipeline.dvc.step.grid["1e-05"]', "grid-1e-05.txt")}


def test_vars_in_the_paths_of_a_stage_are_written_as_their_values(tmp_path):
    # a step's deps and outs are constants (each.* aside): the paths of a stage naming vars get their values
    (tmp_path / "dvc.yaml").write_text("""vars:
  - model: rf
stages:
  train:
    cmd: sh train.sh ${train.n_est} models/${model}.pkl
    deps:
      - data/${data}.csv
    outs:
      - models/${model}.pkl
  evaluate:
    cmd: sh eval.sh models/${model}.pkl
    deps:
      - models/${model}.pkl
    metrics:
      - eval/${model}.json
""")
    (tmp_path / "params.yaml").write_text("data: wine\ntrain:\n  n_est: 50\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "wine.csv").write_text("a\n1\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    train, evaluate = planned.step("pipeline.dvc.step.train"), planned.step("pipeline.dvc.step.evaluate")
    assert train.params[":command"] == ["sh", "train.sh", "50", "models/rf.pkl"]
    assert set(train.inputs) == {"data/wine.csv"} and train.outputs == ["models/rf.pkl"]
    assert evaluate.inputs["rf_pkl"].step == "pipeline.dvc.step.train" and evaluate.outputs == ["eval/rf.json"]
    assert 'value = step.evaluate.outs["eval/rf.json"]' in converted.text
    assert "stage train: models/${model}.pkl is written as models/rf.pkl (a step's paths are constants)" in "\n".join(converted.notes)


def test_a_dep_on_a_foreach_out_or_on_the_folder_of_outs_is_an_input_from_their_steps(tmp_path):
    # DVC links a dep to the stage writing it, and a folder dep to every stage writing inside it
    (tmp_path / "dvc.yaml").write_text("""stages:
  train:
    foreach:
      small: {depth: 2}
      big: {depth: 8}
    do:
      cmd: echo ${item.depth} > models/${key}.txt
      outs:
        - models/${key}.txt
  report:
    cmd: echo report > models/report.txt
    outs:
      - models/report.txt
  evaluate:
    cmd: cat models/*.txt > eval.txt
    deps:
      - models
    outs:
      - eval.txt
  best:
    cmd: cp models/big.txt best.txt
    deps:
      - models/big.txt
    outs:
      - best.txt
""")
    (tmp_path / "models").mkdir()  # as `dvc repro` left it, with a file no stage writes
    (tmp_path / "models" / "notes.md").write_text("hand-written\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    evaluate, best = planned.step("pipeline.dvc.step.evaluate"), planned.step("pipeline.dvc.step.best")
    assert {k: (v.step, v.output) for k, v in evaluate.inputs.items()} == {
        "small_txt": ('pipeline.dvc.step.train["small"]', "models/small.txt"),
        "big_txt": ('pipeline.dvc.step.train["big"]', "models/big.txt"),
        "report_txt": ("pipeline.dvc.step.report", "models/report.txt")}
    assert {k: (v.step, v.output) for k, v in best.inputs.items()} == {"big_txt": ('pipeline.dvc.step.train["big"]', "models/big.txt")}
    assert converted.notes == ["stage evaluate: dep models holds models/notes.md, which no stage writes: only the outs in it are inputs; add those files to deps"]


def test_a_foreach_dep_on_the_same_items_out_of_another_foreach_is_each_instances_input(tmp_path):
    # DVC's common per-item chain: prepare@us -> train@us, prepare@uk -> train@uk
    (tmp_path / "dvc.yaml").write_text("""stages:
  prepare:
    foreach: [us, uk]
    do:
      cmd: echo ${item} > data/${item}/rows.csv
      outs:
        - data/${item}
  train:
    foreach: [us, uk]
    do:
      cmd: cat data/${item}/rows.csv > models/${item}.pkl
      deps:
        - data/${item}/rows.csv
      outs:
        - models/${item}.pkl
""")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    for key in ("us", "uk"):
        (dep,) = planned.step(f'pipeline.dvc.step.train["{key}"]').inputs.values()
        assert (dep.step, dep.output) == (f'pipeline.dvc.step.prepare["{key}"]', f"data/{key}")


def test_a_matrix_stage_fans_out_over_every_combination_keyed_as_dvc_keys_them(tmp_path):
    (tmp_path / "dvc.yaml").write_text("""vars:
  - features: [a, b]
stages:
  train:
    matrix:
      model: [cnn, xgb]
      feature: ${features}
      opts: [{lr: 0.1}]
    cmd: echo ${item.model} ${item.feature} ${item.opts.lr} > models/${key}.txt
    outs:
      - models/${key}.txt
  pick:
    cmd: cp models/xgb-b-opts0.txt best.txt
    deps:
      - models/xgb-b-opts0.txt
    outs:
      - best.txt
""")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    commands = {s.address.removeprefix("pipeline.dvc.step."): s.params[":command"][-1] for s in planned.steps if "train[" in s.address}
    assert commands == {f'train["{m}-{f}-opts0"]': f"echo {m} {f} 0.1 > models/{m}-{f}-opts0.txt" for m in ("cnn", "xgb") for f in "ab"}
    (dep,) = planned.step("pipeline.dvc.step.pick").inputs.values()
    assert dep.step == 'pipeline.dvc.step.train["xgb-b-opts0"]' and not converted.notes


def test_the_per_item_chain_over_a_params_list_follows_an_edit_of_the_list(tmp_path):
    # params.yaml stays the place to edit: a region added there is prepared and trained without importing again
    (tmp_path / "dvc.yaml").write_text("""stages:
  prepare:
    foreach: ${regions}
    do:
      cmd: echo ${item} > data/${item}.csv
      outs:
        - data/${item}.csv
  train:
    foreach: ${regions}
    do:
      cmd: cat data/${item}.csv > models/${item}.txt
      deps:
        - data/${item}.csv
      outs:
        - models/${item}.txt
""")
    (tmp_path / "params.yaml").write_text("regions: [us, eu]\n")
    import_dvc(tmp_path / "dvc.yaml")
    (tmp_path / "params.yaml").write_text("regions: [us, eu, ap]\n")
    planned, _, _ = plan(tmp_path)
    (dep,) = planned.step('pipeline.dvc.step.train["ap"]').inputs.values()
    assert (dep.step, dep.output) == ('pipeline.dvc.step.prepare["ap"]', "data/ap.csv")


def test_a_dep_wired_to_the_instances_a_var_gives_now_says_so(tmp_path):
    # evaluate reads the folder of every train instance: a region added to params.yaml later would not reach it
    (tmp_path / "dvc.yaml").write_text("""stages:
  train:
    matrix:
      region: ${regions}
      depth: [2]
    cmd: echo ${item.region} > models/${key}.txt
    outs:
      - models/${key}.txt
  evaluate:
    cmd: cat models/* > all.txt
    deps:
      - models
    outs:
      - all.txt
""")
    (tmp_path / "params.yaml").write_text("regions: [us, eu]\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    assert converted.notes == [
        "stage train: its matrix is written with the values of ${regions} now: import again after changing them",
        "stage evaluate: dep models is read from the instances of train (${regions}) as they are now: import again after changing them"]


def test_what_has_no_equivalent_is_listed(converted):
    notes = "\n".join(converted.notes)
    for expected in ("2 commands are joined with && into one", "all of whole.yaml as params: sub/whole.yaml is a dep instead",
                     "plots sub/eval/roc.csv are kept as outs",
                     "top-level `plots:` is not converted (zplan draws no plots; the files stay outs of the steps writing them)"):
        assert expected in notes, notes
    assert 'params  = ["sub/other.json:alpha"]' in converted.text and '"sub/eval.py", "sub/whole.yaml"]' in converted.text
    assert 'command = ["sh", "-c", "cd sub && python eval.py --threshold ${dvc_text(local.vars.threshold)} && echo done"]' in converted.text
    assert "$HOME" in converted.text, "a shell variable stays as it is"


def test_a_mapping_in_a_cmd_is_unpacked_into_flags_as_dvc_unpacks_it(tmp_path):
    # DVC turns `${train}` in a cmd into --key value flags: a true bool is --key alone, a false one nothing
    (tmp_path / "dvc.yaml").write_text("""stages:
  train:
    cmd: echo train ${train}
    params: [train]
  tune:
    foreach:
      a: {depth: 2, fast: true}
      b: {depth: 4, fast: false}
    do:
      cmd: echo tune ${item} ${opts}
""")
    (tmp_path / "params.yaml").write_text(
        "train:\n  epochs: 10\n  name: it's\n  fast: true\n  slow: false\n"
        "opts:\n  layers: [64, 32]\n  optim:\n    lr: 0.1\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    commands = {s.address.removeprefix("pipeline.dvc.step."): s.params[":command"] for s in planned.steps}
    assert commands["train"] == ["echo", "train", "--epochs", "10", "--name", "it's", "--fast"]  # in the file's order, as DVC
    assert commands['tune["a"]'] == ["echo", "tune", "--depth", "2", "--fast", "--layers", "64", "32", "--optim.lr", "0.1"]
    assert commands['tune["b"]'] == ["echo", "tune", "--depth", "4", "--layers", "64", "32", "--optim.lr", "0.1"]
    assert not converted.notes, "a nested mapping follows an edit of params.yaml too"
    (tmp_path / "params.yaml").write_text("train:\n  epochs: 20\n  batch: 8\nopts:\n  layers: [16]\n  optim:\n    lr: 0.2\n")
    planned, _, _ = plan(tmp_path)  # params.yaml stays the place to edit them
    assert planned.step("pipeline.dvc.step.train").params[":command"] == ["echo", "train", "--epochs", "20", "--batch", "8"]
    assert planned.step('pipeline.dvc.step.tune["a"]').params[":command"][-4:] == ["--layers", "16", "--optim.lr", "0.2"]


def test_a_mapping_in_a_cmd_is_unpacked_as_the_dvc_projects_parsing_settings_say(tmp_path):
    # `dvc config parsing.list append` and `parsing.bool boolean_optional`: --key a --key b, and --no-key for false
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    remote = store\n['remote \"store\"']\n    url = /tmp/store\n"
                                               "[parsing]\n    list = append\n")
    (tmp_path / ".dvc" / "config.local").write_text("[parsing]\n    bool = boolean_optional\n")
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    cmd: echo train ${train}\n")
    (tmp_path / "params.yaml").write_text("train:\n  layers: [64, 32]\n  fast: false\n  slow: true\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    assert planned.step("pipeline.dvc.step.train").params[":command"] == [
        "echo", "train", "--layers", "64", "--layers", "32", "--no-fast", "--slow"]


def test_a_frozen_stage_never_runs_and_its_outs_are_read_as_they_are(tmp_path):
    # `dvc repro` never runs a frozen stage and keeps its outs: the steps reading them read the project's files
    (tmp_path / "dvc.yaml").write_text("""stages:
  prepare:
    cmd: echo fresh > data/prepared.csv
    deps: [raw.csv]
    outs: [data/prepared.csv]
    metrics: [data/stats.json]
    frozen: true
  shards:
    foreach: [a, b]
    do:
      cmd: echo ${item} > shards/${item}.txt
      outs:
        - shards/${item}.txt
      frozen: true
  train:
    cmd: cat data/prepared.csv > model.txt
    deps: [data/prepared.csv]
    outs: [model.txt]
  merge:
    foreach: [a, b]
    do:
      cmd: cat shards/${item}.txt data/stats.json > merged-${item}.txt
      deps:
        - shards/${item}.txt
        - data
      outs:
        - merged-${item}.txt
""")
    (tmp_path / "data").mkdir()
    (tmp_path / "shards").mkdir()
    for path in ("raw.csv", "data/prepared.csv", "data/stats.json", "shards/a.txt", "shards/b.txt"):
        (tmp_path / path).write_text("kept\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    assert sorted(s.address for s in planned.steps) == [
        'pipeline.dvc.step.merge["a"]', 'pipeline.dvc.step.merge["b"]', "pipeline.dvc.step.train"]
    assert set(planned.step("pipeline.dvc.step.train").inputs) == {"data/prepared.csv"}  # a data file, fingerprinted
    assert set(planned.step('pipeline.dvc.step.merge["b"]').inputs) == {"shards/b.txt", "data"}
    assert not planned.outputs, "no output reads the frozen stage's metrics from a step"
    assert "# DVC stage prepare is frozen (`frozen: true`): DVC never runs it, so it is not a step here;" in converted.text
    assert "`dvc unfreeze prepare` (or remove `frozen: true`), then `zplan import-dvc -force`" in converted.text
    assert converted.notes == [
        "stage prepare: frozen, so not a step (DVC never runs it): its outs (data/prepared.csv, data/stats.json) are read as they are in the project folder",
        "stage shards: frozen, so not a step (DVC never runs it): its outs (shards/a.txt, shards/b.txt) are read as they are in the project folder"]
    (tmp_path / "shards" / "b.txt").unlink()  # kept in DVC's cache only: the plan would miss it
    assert convert(tmp_path / "dvc.yaml").notes[-1] == (
        "stage shards: its outs shards/b.txt are not in the project folder: `dvc checkout` (or `dvc pull`) them before `zplan plan`")


def test_a_file_that_is_not_a_pipeline_is_a_clear_error(tmp_path):
    (tmp_path / "dvc.yaml").write_text("- just a list\n")
    with pytest.raises(diags.DiagnosticError, match="is not a DVC pipeline"):
        convert(tmp_path / "dvc.yaml")
    (tmp_path / "dvc.yaml").write_text("stages: [\n")
    with pytest.raises(diags.DiagnosticError, match="is not valid YAML"):
        convert(tmp_path / "dvc.yaml")
    # dvc.lock, what DVC recorded: its deps are {path, md5} records
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages:\n  a:\n    cmd: echo\n    deps:\n    - path: x.csv\n      md5: 22a1\n")
    with pytest.raises(diags.DiagnosticError, match="is a dvc.lock, DVC's record of what ran, not a pipeline"):
        convert(tmp_path / "dvc.lock")


def test_a_stage_wdir_runs_its_command_there_with_its_paths_read_from_there(tmp_path):
    (tmp_path / "dvc.yaml").write_text("""stages:
  prep:
    wdir: sub
    cmd: python run.py
    deps: [../data/x.csv, run.py]
    params: [scale]
    outs: [out.txt]
  use:
    cmd: cat sub/out.txt > final.txt
    deps: [sub/out.txt]
    outs: [final.txt]
""")
    converted = convert(tmp_path / "dvc.yaml")
    assert 'command = ["sh", "-c", "cd sub && python run.py"]' in converted.text
    assert 'deps    = ["data/x.csv", "sub/run.py"]' in converted.text
    assert 'params  = ["sub/params.yaml:scale"]' in converted.text and 'outs    = ["sub/out.txt"]' in converted.text
    assert 'inputs  = { out_txt = step.prep.outs["sub/out.txt"] }' in converted.text
    assert not converted.notes, "wdir is converted, so nothing is listed"


def test_a_dvc_yaml_in_a_sub_folder_written_above_it_runs_its_stages_there(tmp_path):
    # DVC reads a dvc.yaml's paths, params.yaml and vars from its own folder, and runs its commands there
    (tmp_path / "sub" / "inner").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.csv").write_text("a\n")
    (tmp_path / "sub" / "params.yaml").write_text("scale: 2\nsuffix: end\n")
    (tmp_path / "sub" / "dvc.yaml").write_text("""stages:
  copy:
    cmd: cp ../data/raw.csv out.csv && echo ${suffix} >> out.csv
    deps: [../data/raw.csv]
    params: [scale]
    outs: [out.csv]
  use:
    wdir: inner
    cmd: cat ../out.csv > final.txt
    deps: [../out.csv]
    outs: [final.txt]
""")
    dest, converted = import_dvc(tmp_path / "sub" / "dvc.yaml", tmp_path / "dvc.zp.hcl")
    assert not converted.notes and 'params = params_file("sub/params.yaml")' in converted.text
    planned, _, _ = plan(tmp_path)
    copy, use = planned.step("pipeline.dvc.step.copy"), planned.step("pipeline.dvc.step.use")
    assert copy.params[":command"] == ["sh", "-c", "cd sub && cp ../data/raw.csv out.csv && echo end >> out.csv"]
    assert set(copy.inputs) == {"data/raw.csv"} and copy.params["sub/params.yaml:scale"] == 2 and copy.outputs == ["sub/out.csv"]
    assert use.params[":command"] == ["sh", "-c", "cd sub/inner && cat ../out.csv > final.txt"]
    assert use.inputs["out_csv"].output == "sub/out.csv" and use.outputs == ["sub/inner/final.txt"]

    beside = convert(tmp_path / "sub" / "dvc.yaml")  # its paths leave the folder it would be written in
    assert "stage copy: ../data/raw.csv is outside the project folder" in "\n".join(beside.notes)
    with pytest.raises(diags.DiagnosticError, match="is outside the folder of the file to write"):
        import_dvc(tmp_path / "sub" / "dvc.yaml", tmp_path / "sub" / "inner" / "dvc.zp.hcl")
    assert not (tmp_path / "sub" / "inner" / "dvc.zp.hcl").exists()


def test_the_dvc_yaml_files_of_sub_folders_are_one_pipeline_as_dvc_repro_runs_them(tmp_path):
    # DVC reads each dvc.yaml's paths, params.yaml and vars from its own folder, links deps to outs across files,
    # and addresses a stage of another file as sub/dvc.yaml:NAME, so stages of one name stay distinct
    for folder in ("data", "prep", "train", ".dvc"):
        (tmp_path / folder).mkdir()
    (tmp_path / "data" / "raw.csv").write_text("a\n")
    (tmp_path / "prep" / "dvc.yaml").write_text("""vars:
  - tag: v1
stages:
  build:
    cmd: cp ../data/raw.csv clean.csv && echo ${scale} ${tag} >> clean.csv
    deps: [../data/raw.csv]
    params: [scale]
    outs: [clean.csv]
  old:
    cmd: echo old > old.txt
    outs: [old.txt]
    frozen: true
""")
    (tmp_path / "prep" / "params.yaml").write_text("scale: 2\n")
    (tmp_path / "train" / "dvc.yaml").write_text("""stages:
  build:
    cmd: cat ../prep/clean.csv > model.txt && echo ${lr} >> model.txt
    deps: [../prep/clean.csv]
    params: [lr]
    outs: [model.txt]
    metrics: [scores.json]
""")
    (tmp_path / "train" / "params.yaml").write_text("lr: 0.5\n")
    (tmp_path / "dvc.yaml").write_text("""vars:
  - tag: root
stages:
  build:
    cmd: cat train/model.txt > report.txt && echo ${tag} ${lr} >> report.txt
    deps: [train/model.txt]
    outs: [report.txt]
""")
    (tmp_path / "params.yaml").write_text("lr: 9\n")
    (tmp_path / "train" / "registry").mkdir()
    (tmp_path / "train" / "registry" / "dvc.yaml").write_text("artifacts:\n  model:\n    path: ../model.txt\n")  # no stages
    (tmp_path / ".dvc" / "dvc.yaml").write_text("stages:\n  x:\n    cmd: echo\n")  # DVC's own folder holds no pipeline
    found = find_dvc_yamls(tmp_path)
    assert found == [tmp_path / "dvc.yaml", tmp_path / "prep" / "dvc.yaml", tmp_path / "train" / "dvc.yaml",
                     tmp_path / "train" / "registry" / "dvc.yaml"]
    dest, converted = import_dvc(found)
    assert dest == tmp_path / "dvc.zp.hcl"
    assert "# Converted from dvc.yaml, prep/dvc.yaml, train/dvc.yaml, train/registry/dvc.yaml by `zplan import-dvc`." in converted.text
    assert converted.notes[2:] == ["top-level `artifacts:` is not converted (zplan keeps no model registry; "
                                   "the files stay outs of the steps writing them)"]
    assert converted.places == ["prep/dvc.yaml:9", "prep/dvc.yaml:9", "train/registry/dvc.yaml:1"]  # (the place names the file)
    assert converted.notes[:2] == ["stage prep/dvc.yaml:old: frozen, so not a step (DVC never runs it): its outs (prep/old.txt) are read "
                               "as they are in the project folder", "stage prep/dvc.yaml:old: its outs prep/old.txt are not in the "
                               "project folder: `dvc checkout` (or `dvc pull`) them before `zplan plan`"]
    planned, _, _ = plan(tmp_path)
    steps = {s.address.removeprefix("pipeline.dvc.step."): s for s in planned.steps}
    assert {name: s.params[":command"][-1] for name, s in steps.items()} == {
        "build": "cat train/model.txt > report.txt && echo root 9 >> report.txt",
        "prep_build": "cd prep && cp ../data/raw.csv clean.csv && echo 2 v1 >> clean.csv",
        "train_build": "cd train && cat ../prep/clean.csv > model.txt && echo 0.5 >> model.txt"}
    assert steps["prep_build"].params["prep/params.yaml:scale"] == 2 and steps["train_build"].params["train/params.yaml:lr"] == 0.5
    assert [(i.step, i.output) for i in steps["train_build"].inputs.values()] == [("pipeline.dvc.step.prep_build", "prep/clean.csv")]
    assert [(i.step, i.output) for i in steps["build"].inputs.values()] == [("pipeline.dvc.step.train_build", "train/model.txt")]
    assert set(planned.outputs) == {"train_build_scores"}


def test_dvc_yaml_files_a_dvcignore_leaves_out_are_not_imported(tmp_path):
    # DVC reads no dvc.yaml in a folder its .dvcignore files name (gitignore patterns, a sub-folder's relative to it)
    for folder in ("vendor/lib", "exp/old", "exp/keep", "data/raw", "src/scratch", "a/b", "tmp2"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "dvc.yaml").write_text("stages:\n  x:\n    cmd: echo\n")
    (tmp_path / "dvc.yaml").write_text("stages:\n  x:\n    cmd: echo\n")
    (tmp_path / ".dvcignore").write_text("# vendored code\nvendor/\nexp/*\n!exp/keep\n/raw\na[!x]b\ntmp[0-9]\n")  # [!x] never a /
    (tmp_path / "src" / ".dvcignore").write_text("scratch\n")
    assert find_dvc_yamls(tmp_path) == [tmp_path / "dvc.yaml", tmp_path / "a" / "b" / "dvc.yaml", tmp_path / "data" / "raw" / "dvc.yaml",
                                        tmp_path / "exp" / "keep" / "dvc.yaml"]


def test_the_dvcignore_of_the_dvc_project_above_the_folder_imported_is_honoured(tmp_path):
    # run in a sub-folder of the DVC project, the import reads the .dvcignore files above it too, as DVC does
    (tmp_path / ".dvc").mkdir()
    for folder in ("src/exp/old", "src/exp/new"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "dvc.yaml").write_text("stages:\n  x:\n    cmd: echo\n")
    (tmp_path / ".dvcignore").write_text("src/exp/old/\n")
    (tmp_path / "src" / ".dvcignore").write_text("!nothing\n")
    assert find_dvc_yamls(tmp_path / "src" / "exp") == [tmp_path / "src" / "exp" / "new" / "dvc.yaml"]


def test_the_dvc_yaml_files_of_a_sub_folder_that_is_a_dvc_project_of_its_own_are_not_imported(tmp_path):
    # DVC leaves a sub-repo (a folder with its own .dvc) to itself: `dvc repro` above it never runs its stages
    for folder in ("lib/.dvc", "lib/inner", "app"):
        (tmp_path / folder).mkdir(parents=True)
    for folder in ("", "lib", "lib/inner", "app"):
        (tmp_path / folder / "dvc.yaml").write_text("stages:\n  x:\n    cmd: echo\n")
    assert find_dvc_yamls(tmp_path) == [tmp_path / "dvc.yaml", tmp_path / "app" / "dvc.yaml"]


def test_params_a_step_cannot_list_by_key_make_their_file_a_dep(tmp_path):
    # DVC reads a params.py's constants, and `- file.yaml:` tracks all of a file: both rerun the stage when
    # they change, so the file is a dep (an edit anywhere in it reruns the step) rather than nothing
    (tmp_path / "dvc.yaml").write_text("""stages:
  train:
    cmd: echo > model.txt
    params:
      - conf.toml:
          - model.lr
      - conf.py:
          - LR
      - whole.yaml:
    outs:
      - model.txt
""")
    (tmp_path / "conf.toml").write_text("[model]\nlr = 0.1\n")
    (tmp_path / "conf.py").write_text("LR = 0.1\n")
    (tmp_path / "whole.yaml").write_text("depth: 3\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    train = planned.step("pipeline.dvc.step.train")
    assert set(train.inputs) == {"conf.py", "whole.yaml"} and train.params["conf.toml:model.lr"] == 0.1
    assert converted.notes == ["stage train: params LR of conf.py (Python): conf.py is a dep instead (any edit of it reruns the step)",
                               "stage train: all of whole.yaml as params: whole.yaml is a dep instead (any edit of it reruns the step)"]


def test_an_always_changed_stage_runs_on_every_apply(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  stamp:\n    cmd: date > stamp.txt\n    always_changed: true\n    outs: [stamp.txt]\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    assert [r.message for r in planned.step("pipeline.dvc.step.stamp").reasons] == ["never ran", "cache = false: runs on every apply"]
    assert not converted.notes


def test_paths_written_another_way_name_the_same_out(tmp_path):
    # DVC reads ./data/x.csv, data//x.csv and data/x.csv as one path: the dep is that stage's out
    (tmp_path / "dvc.yaml").write_text("""stages:
  prepare:
    cmd: mkdir -p data && echo x > data/prepared.csv
    outs:
      - ./data/prepared.csv
  train:
    cmd: cat data/prepared.csv > model.txt
    deps:
      - data//prepared.csv
      - ./params.yaml
    outs:
      - model.txt
""")
    (tmp_path / "params.yaml").write_text("lr: 1\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    assert planned.step("pipeline.dvc.step.prepare").outputs == ["data/prepared.csv"]
    train = planned.step("pipeline.dvc.step.train")
    assert {k: (v.step, v.output) for k, v in train.inputs.items() if hasattr(v, "step")} == {
        "prepared_csv": ("pipeline.dvc.step.prepare", "data/prepared.csv")}
    assert "params.yaml" in train.inputs


def test_the_metrics_of_a_foreach_or_matrix_stage_are_an_output_by_instance(tmp_path):
    # `dvc metrics show` lists every instance's metrics: the output is a map of them by key
    (tmp_path / "dvc.yaml").write_text("""stages:
  train:
    foreach: ${regions}
    do:
      cmd: echo {} > m-${key}.json
      metrics:
        - m-${key}.json
  grid:
    matrix:
      depth: [2, 4]
    cmd: echo {} > g-${item.depth}.json
    metrics:
      - g-${item.depth}.json
""")
    (tmp_path / "params.yaml").write_text("regions: [us, eu]\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    assert 'value = { for k, s in step.train : k => s.outs["m-${k}.json"] }' in converted.text
    assert 'value = { "2" = step.grid["2"].outs["g-2.json"], "4" = step.grid["4"].outs["g-4.json"] }' in converted.text
    (tmp_path / "params.yaml").write_text("regions: [us, eu, ap]\n")  # a region added later is in the output too
    planned, _, _ = plan(tmp_path)
    assert set(planned.outputs) == {"train_m", "grid_g"}
    assert 'pipeline.dvc.step.train["ap"]' in {s.address for s in planned.steps}


def test_a_stage_reading_a_url_runs_on_every_apply(tmp_path):
    # DVC checks an external dep by its ETag; a step cannot see it change, so it is never taken from the cache
    (tmp_path / "dvc.yaml").write_text("""stages:
  download:
    wdir: sub
    cmd: curl -o raw.csv https://example.com/raw.csv
    deps:
      - https://example.com/raw.csv
      - fetch.cfg
    outs:
      - raw.csv
""")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "fetch.cfg").write_text("retries: 3\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    download = planned.step("pipeline.dvc.step.download")
    assert [r.code for r in download.reasons] == ["never_ran", "cache_disabled"] and set(download.inputs) == {"sub/fetch.cfg"}
    assert converted.notes == ["stage download: dep https://example.com/raw.csv is outside the project, which a step cannot fingerprint: "
                               "cache = false, so it runs on every apply (steps after it come from the cache when its outs come out unchanged)"]


def test_stage_names_and_metrics_files_that_read_alike_get_their_own_blocks(tmp_path):
    (tmp_path / "dvc.yaml").write_text("""stages:
  train-a:
    cmd: echo a > a.txt
    outs: [a.txt]
  train_a:
    cmd: echo b > b.txt
    outs: [b.txt]
  evaluate:
    cmd: cat a.txt b.txt
    deps: [a.txt, b.txt]
    metrics: [eval/train/scores.json, eval/test/scores.json]
""")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    inputs = planned.step("pipeline.dvc.step.evaluate").inputs
    assert {(i.step, i.output) for i in inputs.values()} == {("pipeline.dvc.step.train_a", "a.txt"), ("pipeline.dvc.step.train_a_2", "b.txt")}
    assert set(planned.outputs) == {"evaluate_scores", "evaluate_scores_2"}


def test_vars_files_of_one_name_in_two_folders_are_read_each_from_its_own(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "conf.yaml").write_text("alpha: 1\n")
    (tmp_path / "b" / "conf.yaml").write_text("beta: 2\n")
    (tmp_path / "dvc.yaml").write_text("vars:\n  - a/conf.yaml\n  - b/conf.yaml\nstages:\n  s:\n    cmd: echo ${alpha} ${beta}\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    assert planned.step("pipeline.dvc.step.s").params[":command"] == ["echo", "1", "2"]


def test_a_foreach_stage_param_naming_its_item_is_each_instances_own(tmp_path):
    (tmp_path / "dvc.yaml").write_text("""stages:
  train:
    foreach: [small, big]
    do:
      cmd: echo ${item} > m-${item}.txt
      params:
        - models.${item}.depth
      outs:
        - m-${item}.txt
""")
    (tmp_path / "params.yaml").write_text("models:\n  small:\n    depth: 2\n  big:\n    depth: 8\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    depths = {s.address: {k: v for k, v in s.params.items() if k.startswith("params.yaml:")} for s in planned.steps}
    assert depths == {'pipeline.dvc.step.train["small"]': {"params.yaml:models.small.depth": 2},
                      'pipeline.dvc.step.train["big"]': {"params.yaml:models.big.depth": 8}}


def test_a_multi_line_cmd_is_one_shell_script_as_dvc_runs_it(tmp_path):
    (tmp_path / "dvc.yaml").write_text("""stages:
  report:
    cmd: |
      echo "rows:\t3" > report.txt
      cat report.txt
    outs:
      - report.txt
""")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    script = 'echo "rows:\t3" > report.txt\ncat report.txt\n'
    assert planned.step("pipeline.dvc.step.report").params[":command"] == ["sh", "-c", script]


def test_params_yaml_and_dvc_yaml_are_read_as_yaml_1_2_as_dvc_reads_them(tmp_path):
    # DVC reads YAML 1.2: lr: 1e-5 is a number it writes 1e-05, `no` and `on` are text, not booleans
    (tmp_path / "dvc.yaml").write_text("""stages:
  train:
    cmd: echo --lr ${lr} --opt ${opt} > model.txt
    params: [lr]
    outs: [model.txt]
  vote:
    foreach: [yes, no]
    do:
      cmd: echo ${item} > vote-${key}.txt
      outs:
        - vote-${key}.txt
""")
    (tmp_path / "params.yaml").write_text("lr: 1e-5\nopt: no\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    commands = {s.address.removeprefix("pipeline.dvc.step."): s.params[":command"][-1] for s in planned.steps}
    assert commands == {"train": "echo --lr 1e-05 --opt no > model.txt",
                        'vote["yes"]': "echo yes > vote-yes.txt", 'vote["no"]': "echo no > vote-no.txt"}
    assert planned.step("pipeline.dvc.step.train").params["params.yaml:lr"] == 1e-05


def test_a_list_element_named_by_its_index_in_brackets_is_its_value(tmp_path):
    # DVC reads ${models[0]} as ${models.0}: an out named by it is a constant another stage's dep links to
    (tmp_path / "dvc.yaml").write_text("""stages:
  a:
    cmd: echo ${models[1]} > out-${models[0]}.txt
    outs:
      - out-${models[0]}.txt
  b:
    cmd: cat out-m1.txt > b.txt
    deps: [out-m1.txt]
    outs: [b.txt]
  c:
    foreach:
      - [x, y]
    do:
      cmd: echo ${item[1]} > c-${key}.txt
      outs:
        - c-${key}.txt
""")
    (tmp_path / "params.yaml").write_text("models: [m1, m2]\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    steps = {s.address.removeprefix("pipeline.dvc.step."): s for s in planned.steps}
    assert steps["a"].params[":command"] == ["sh", "-c", "echo m2 > out-m1.txt"] and steps["a"].outputs == ["out-m1.txt"]
    assert [(i.step, i.output) for i in steps["b"].inputs.values()] == [("pipeline.dvc.step.a", "out-m1.txt")]
    assert steps['c["0"]'].params[":command"] == ["sh", "-c", "echo y > c-0.txt"]


def test_an_escaped_interpolation_is_left_for_the_shell_as_dvc_leaves_it(tmp_path):
    # DVC reads \${HOME} as the text ${HOME}, which the shell then expands: not a var, nor a backslash kept
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo \\${HOME} ${lr} > a.txt\n    outs: [a.txt]\n")
    (tmp_path / "params.yaml").write_text("lr: 0.1\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    assert not converted.notes
    planned, _, _ = plan(tmp_path)
    assert planned.step("pipeline.dvc.step.a").params[":command"] == ["sh", "-c", "echo ${HOME} 0.1 > a.txt"]


def test_a_stages_own_vars_are_read_for_that_stage_as_dvc_reads_them(tmp_path):
    # DVC adds a stage's `vars:` (mappings, and files read from its wdir) to the file's vars for that stage only
    (tmp_path / "sub").mkdir()
    (tmp_path / "dvc.yaml").write_text("""vars:
  - tag: v1
stages:
  train:
    vars:
      - lr: 2.0
        opt: {epochs: 3}
      - train.yaml
    cmd: echo ${tag} ${lr} ${opt} ${seed} ${base.x} > model.txt
    outs: [model.txt]
  eval:
    wdir: sub
    vars:
      - conf.yaml:threshold
    cmd: cat ../model.txt > score.txt && echo ${threshold} >> score.txt
    deps: [../model.txt]
    outs: [score.txt]
  each:
    foreach: [a, b]
    do:
      vars:
        - suffix: .out
      cmd: echo ${item} > ${item}${suffix}
      outs: ["${item}${suffix}"]
""")
    (tmp_path / "params.yaml").write_text("base:\n  x: 1\n")
    (tmp_path / "train.yaml").write_text("seed: 7\n")
    (tmp_path / "sub" / "conf.yaml").write_text("threshold: 0.5\n")
    _, converted = import_dvc(tmp_path / "dvc.yaml")
    assert converted.notes == []
    planned, _, _ = plan(tmp_path)
    steps = {s.address.removeprefix("pipeline.dvc.step."): s for s in planned.steps}
    assert steps["train"].params[":command"][-1] == "echo v1 2.0 --epochs 3 7 1 > model.txt"
    assert steps["eval"].params[":command"][-1] == "cd sub && cat ../model.txt > score.txt && echo 0.5 >> score.txt"
    assert steps['each["b"]'].params[":command"][-1] == "echo b > b.out" and steps['each["b"]'].outputs == ["b.out"]
    # only that stage reads them: another naming one is refused, as DVC refuses it
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    vars:\n      - n: 2\n    cmd: echo ${n}\n  b:\n    cmd: echo ${n}\n")
    with pytest.raises(diags.DiagnosticError, match=r"stage b: \$\{n\} in its cmd names no var"):
        convert(tmp_path / "dvc.yaml")


def test_a_stage_wdir_written_with_a_var_is_filled_before_its_vars_files_are_read(tmp_path):
    # as `dvc repro` resolves the wdir with the file's vars first, then reads the stage's vars files from there
    (tmp_path / "sub").mkdir()
    (tmp_path / "dvc.yaml").write_text("vars:\n  - where: sub\nstages:\n  eval:\n    wdir: ${where}\n    vars:\n      - conf.yaml\n"
                                       "    cmd: echo ${threshold} > score.txt\n    outs: [score.txt]\n")
    (tmp_path / "sub" / "conf.yaml").write_text("threshold: 0.5\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    step = planned.step("pipeline.dvc.step.eval")
    assert step.params[":command"][-1] == "cd 'sub' && echo 0.5 > score.txt" and step.outputs == ["sub/score.txt"]
    # a foreach's ${item} differs between instances: one folder to read the vars files from is not known
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    foreach: [sub]\n    do:\n      wdir: ${item}\n      vars:\n"
                                       "        - conf.yaml\n      cmd: echo ${threshold}\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        convert(tmp_path / "dvc.yaml")
    (found,) = caught.value.diagnostics
    assert "stage a: its vars files are read from its wdir ${item}" in found.summary and found.range.line == 5, found
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    foreach: [sub]\n    do:\n      wdir: ${item}\n      vars:\n"
                                       "        - threshold: 0.7\n      cmd: echo ${threshold}\n")  # no file to read: fine
    import_dvc(tmp_path / "dvc.yaml", force=True)
    assert plan(tmp_path)[0].step('pipeline.dvc.step.a["sub"]').params[":command"][-1] == "cd 'sub' && echo 0.7"


@pytest.mark.parametrize("stage_vars, message", [
    ("      - base: {x: 2}\n", "stage a: its vars define base.x, which params.yaml defines already: DVC refuses to redefine it"),
    ("      - tag: v2\n", "stage a: its vars define tag, which the top-level vars defines already"),
    ("      - other.yaml\n", "vars file other.yaml does not exist"),
])
def test_a_stage_var_dvc_cannot_read_is_an_error_at_its_line(tmp_path, stage_vars, message):
    (tmp_path / "dvc.yaml").write_text(f"vars:\n  - tag: v1\nstages:\n  a:\n    vars:\n{stage_vars}    cmd: echo ${{base.x}}\n")
    (tmp_path / "params.yaml").write_text("base:\n  x: 1\n  y: 2\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        convert(tmp_path / "dvc.yaml")
    (found,) = caught.value.diagnostics
    assert message in found.summary and found.range.line == 5, (found.summary, found.range)


def test_a_stage_vars_file_with_keys_imports_only_those_keys_as_dvc_does(tmp_path):
    # `conf.yaml:threshold` imports threshold alone: conf.yaml's seed, which params.yaml defines too, is no clash
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    vars:\n      - conf.yaml:threshold,opt.depth\n"
                                       "    cmd: echo ${seed} ${threshold} ${opt.depth} > a.txt\n    outs: [a.txt]\n")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    (tmp_path / "conf.yaml").write_text("seed: 2\nthreshold: 0.5\nopt:\n  depth: 3\n  width: 4\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    assert planned.step("pipeline.dvc.step.a").params[":command"][-1] == "echo 1 0.5 3 > a.txt"
    for vars_ in ("stages:\n  a:\n    vars:\n      - conf.yaml:threshold\n", "vars:\n  - conf.yaml:threshold\nstages:\n  a:\n"):
        (tmp_path / "dvc.yaml").write_text(vars_ + "    cmd: echo ${opt.width}\n")
        with pytest.raises(diags.DiagnosticError, match=r"\$\{opt.width\} in its cmd names no var"):
            convert(tmp_path / "dvc.yaml")


@pytest.mark.parametrize("vars_, message", [
    ("  - seed: 2\n", "vars: an inline `vars` entry defines seed, which params.yaml defines already"),
    ("  - conf.yaml\n", "vars: conf.yaml defines opt.depth, which params.yaml defines already"),
    ("  - n: 1\n  - n: 2\n", "vars: an inline `vars` entry defines n, which an inline `vars` entry defines already"),
])
def test_a_top_level_var_defined_twice_is_an_error_as_dvc_refuses_it(tmp_path, vars_, message):
    (tmp_path / "dvc.yaml").write_text(f"vars:\n{vars_}stages:\n  a:\n    cmd: echo ${{seed}}\n")
    (tmp_path / "params.yaml").write_text("seed: 1\nopt:\n  depth: 3\n")
    (tmp_path / "conf.yaml").write_text("opt:\n  width: 4\n  depth: 5\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        convert(tmp_path / "dvc.yaml")
    (found,) = caught.value.diagnostics
    assert message in found.summary and found.range.line == 1, (found.summary, found.range)


@pytest.mark.parametrize("text, line, message", [
    ("vars:\n  - a: x\n  - b: [1, \"${a}\"]\nstages:\n  s:\n    cmd: echo ${b}\n", 1, "vars hold ${a}: DVC interpolates no vars"),
    ("stages:\n  s:\n    foreach: [x, y]\n    do:\n      vars:\n        - n: ${item}\n      cmd: echo ${n}\n",
     5, "stage s: its vars hold ${item}: DVC interpolates no vars"),
])
def test_a_var_written_with_an_interpolation_is_an_error_as_dvc_refuses_it(tmp_path, text, line, message):
    # kept, the ${...} would reach the command as literal text
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(diags.DiagnosticError) as caught:
        convert(tmp_path / "t.yaml")
    (found,) = caught.value.diagnostics
    assert message in found.summary and found.range.line == line, (found.summary, found.range)


def test_stage_vars_adding_keys_to_a_mapping_of_params_yaml_are_merged_as_dvc_merges_them(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    vars:\n      - base: {z: 3}\n    cmd: echo ${base.x} ${base.z} > a.txt\n"
                                       "    outs: [a.txt]\n")
    (tmp_path / "params.yaml").write_text("base:\n  x: 1\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    assert planned.step("pipeline.dvc.step.a").params[":command"][-1] == "echo 1 3 > a.txt"


def test_a_stage_field_dvc_does_not_know_is_listed(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo\n    wd: sub\n    meta: {owner: me}\n")
    notes = "\n".join(convert(tmp_path / "dvc.yaml").notes)
    assert "stage a: `wd:` is not a DVC stage field, not converted" in notes
    assert "stage a: `meta:` is not converted" in notes


@pytest.mark.parametrize("stage, message", [
    ("    cmd: echo\n    deps: x.csv\n", "t.yaml:4: stage a: deps must be a list, not a string"),
    ("    cmd: echo\n    outs: model.pkl\n", "t.yaml:4: stage a: outs must be a list, not a string"),
    ("    cmd: echo\n    params: train.lr\n", "t.yaml:4: stage a: params must be a list, not a string"),
    ("    cmd: echo\n    metrics: [[m.json]]\n", "t.yaml:4: stage a: metrics entry ['m.json'] is not a path"),
    ("    cmd: echo\n    params:\n      - o.json: alpha\n", "t.yaml:4: stage a: the keys of a params file must be a list"),
    ("    cmd: 5\n", "t.yaml:3: stage a: cmd must be a string or a list of strings, not a number"),
    ("    outs: [data.csv]\n", "t.yaml:2: stage a has no cmd"),
    ("    foreach: [x]\n", "t.yaml:2: stage a has no cmd"),
    ("    cmd: []\n", "t.yaml:3: stage a has no cmd"),
    ("    foreach: [x]\n    do:\n      cmd: echo\n      wdir: 3\n", "t.yaml:6: stage a: wdir must be a folder path, not a number"),
    ("    foreach: 5\n    do:\n      cmd: echo\n", "t.yaml:3: stage a: foreach must be a list, a mapping or a ${...} naming one, not a number"),
    ("    foreach: ${nope}\n    do:\n      cmd: echo\n", "t.yaml:3: stage a: foreach ${nope} names no var of params.yaml or vars"),
    ("    matrix:\n      m: 5\n    cmd: echo\n", "t.yaml:3: stage a: matrix m must be a list or a ${...} naming one, not a number"),
    ("    cmd: echo ${lr}\n", "t.yaml:3: stage a: ${lr} in its cmd names no var of params.yaml or vars"),
    ("    cmd: echo\n    outs:\n      - m-${item}.pkl\n", "t.yaml:4: stage a: ${item} in its outs names no var"),
])
def test_a_stage_field_dvc_would_refuse_is_an_error_at_its_line(tmp_path, stage, message):
    # a stage without cmd is refused too: its outs would be read from a step that is not there; a foreach or
    # matrix DVC cannot loop over too, rather than a for_each the plan refuses, or a step running ${item} as text
    (tmp_path / "t.yaml").write_text("stages:\n  a:\n" + stage + "  b:\n    cmd: cat data.csv\n    deps: [data.csv]\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        convert(tmp_path / "t.yaml")
    (found,) = caught.value.diagnostics
    assert f"{found.range.relative_to(tmp_path)}: {found.summary}".startswith(message)


def test_a_stage_that_is_not_a_mapping_is_an_error_at_its_line(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo > x.txt\n    outs: [x.txt]\n  b: echo hi\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        import_dvc(tmp_path / "dvc.yaml")
    (found,) = caught.value.diagnostics
    assert (found.range.line, found.summary) == (5, "stage b must be a mapping of its fields, not a string")
    assert not (tmp_path / "dvc.zp.hcl").exists()


def test_an_infinite_var_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "dvc.yaml").write_text("vars:\n  - big: .inf\nstages:\n  a:\n    cmd: echo ${big}\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        import_dvc(tmp_path / "dvc.yaml")
    (found,) = caught.value.diagnostics
    assert found.range.file == str(tmp_path / "dvc.yaml") and "the value inf has no HCL literal" in found.summary
    assert not (tmp_path / "dvc.zp.hcl").exists()


def test_a_params_or_vars_file_dvc_cannot_read_is_an_error_naming_it(tmp_path):
    # not commands keeping ${lr} for the shell, which reads it as empty text
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo ${lr} > a.txt\n    outs: [a.txt]\n")
    (tmp_path / "params.yaml").write_text("x: 1\nlr: [0.1\n")
    with pytest.raises(diags.DiagnosticError, match=r"params.yaml:3 is not valid YAML"):
        import_dvc(tmp_path / "dvc.yaml")
    (tmp_path / "params.yaml").unlink()
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo ${lr} > a.txt\nvars:\n  - conf/custom.yaml\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        import_dvc(tmp_path / "dvc.yaml")
    (found,) = caught.value.diagnostics
    assert (found.range.file, found.range.line, found.summary) == (str(tmp_path / "dvc.yaml"), 4, "vars file conf/custom.yaml does not exist")
    assert not (tmp_path / "dvc.zp.hcl").exists()


def test_a_yaml_syntax_error_names_its_line_and_column(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: [echo\n    deps: x\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        convert(tmp_path / "dvc.yaml")
    (found,) = caught.value.diagnostics
    assert (found.range.line, found.range.column) == (4, 9)
    assert "while parsing a flow sequence (from line 3): expected ',' or ']'" in found.summary


def test_out_naming_a_folder_is_a_clear_error(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo\n")
    (tmp_path / "sub").mkdir()
    with pytest.raises(diags.DiagnosticError, match="sub is a folder"):
        import_dvc(tmp_path / "dvc.yaml", tmp_path / "sub", force=True)
    assert list((tmp_path / "sub").iterdir()) == []


@pytest.mark.parametrize("out, says", [
    ("dvc.yaml", "is not a configuration file"),   # with -force it replaced the pipeline it converts
    ("pipeline.hcl", "is not a configuration file"),  # a file plan never reads, though it said "Next: zplan plan"
])
def test_out_is_a_configuration_file(tmp_path, out, says):
    project = tmp_path / "p"
    project.mkdir()
    (project / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo\n")
    with pytest.raises(diags.DiagnosticError, match=says):
        import_dvc(project / "dvc.yaml", project / out, force=True)
    assert (project / "dvc.yaml").read_text() == "stages:\n  a:\n    cmd: echo\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dvc.yaml", "p"]


def test_values_of_params_yaml_fill_in_commands_and_paths_as_dvc_writes_them(tmp_path):
    # DVC writes a value as Python does (2.0, 1e-05, True in a list), HCL as a number (2, 0.00001): a script
    # parsing an int, or an out named by the value, would see another command than DVC ran
    (tmp_path / "dvc.yaml").write_text("""stages:
  train:
    cmd: echo train --lr ${lr} --small ${small} --fast ${fast} ${opts} > model-${lr}.txt
    params: [lr]
    outs:
      - model-${lr}.txt
  sweep:
    foreach: ${lrs}
    do:
      cmd: echo ${item} > sweep-${item}.txt
      outs:
        - sweep-${item}.txt
  pick:
    cmd: cat model-2.0.txt sweep-1.0.txt > best.txt
    deps: [model-2.0.txt, sweep-1.0.txt]
    outs: [best.txt]
""")
    (tmp_path / "params.yaml").write_text("lr: 2.0\nsmall: 0.00001\nfast: true\nlrs: [0.5, 1.0]\n"
                                          "opts:\n  rate: 1.0\n  flags: [1.0, true, it's]\n  tol: null\n")
    import_dvc(tmp_path / "dvc.yaml")
    planned, _, _ = plan(tmp_path)
    commands = {s.address.removeprefix("pipeline.dvc.step."): s.params[":command"][-1] for s in planned.steps}
    assert commands == {
        "train": "echo train --lr 2.0 --small 1e-05 --fast true --rate 1.0 --flags 1.0 True 'it'\"'\"'s' --tol None > model-2.0.txt",
        'sweep["0.5"]': "echo 0.5 > sweep-0.5.txt", 'sweep["1.0"]': "echo 1.0 > sweep-1.0.txt",
        "pick": "cat model-2.0.txt sweep-1.0.txt > best.txt"}
    inputs = planned.step("pipeline.dvc.step.pick").inputs.values()
    assert {(i.step, i.output) for i in inputs} == {("pipeline.dvc.step.train", "model-2.0.txt"),
                                                    ('pipeline.dvc.step.sweep["1.0"]', "sweep-1.0.txt")}
