"""A naive Bayes word model: python src/train.py FEATURES_DIR MODEL_FILE."""

import collections
import json
import math
import os
import sys

import yaml

smoothing = yaml.safe_load(open("params.yaml"))["train"]["smoothing"]
features, model_file = sys.argv[1], sys.argv[2]
rows = json.load(open(os.path.join(features, "train.json")))
counts = {0: collections.Counter(), 1: collections.Counter()}
for row in rows:
    counts[row["label"]].update(row["words"])
vocabulary = set(counts[0]) | set(counts[1])
model = {}
for label, counter in counts.items():
    total = sum(counter.values()) + smoothing * len(vocabulary)
    model[str(label)] = {w: math.log((counter[w] + smoothing) / total) for w in vocabulary}
json.dump(model, open(model_file, "w"), sort_keys=True)
