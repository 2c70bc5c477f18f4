# %% [markdown]
# # Exploring the quickstart's results
#
# Run `zplan apply` first, then open this file as a notebook (VS Code, Jupyter with jupytext)
# or run it with `python explore.py` from this folder. It reads what the last apply recorded —
# nothing is recomputed by zplan, and the step code is not imported.

# %%
import zplan

project = zplan.open(".")
for run in project.runs(limit=5):
    print(run.number, run.status, run.git_commit, run.started, run.finished)

# %% The trained model and the scaled test set, each checked against its digest when loaded
model_artifact = project.artifact("pipeline.training.step.train")
print(model_artifact.uri, model_artifact.size, "bytes, made by", model_artifact.produced_by)
model = model_artifact.load()
test = project.artifact("pipeline.training.step.scale", output="test").load()

# %% Recompute the accuracy and check it is the one the apply recorded
label = "target"
accuracy = round(float(model.score(test.drop(columns=[label]), test[label])), 4)
recorded = project.output("accuracy")
print(f"accuracy {accuracy} (recorded {recorded})")
assert accuracy == recorded, (accuracy, recorded)
