"""Bag-of-words features: python src/featurization.py PREPARED_DIR FEATURES_DIR."""

import collections
import json
import os
import sys

import yaml

from text import words

max_features = yaml.safe_load(open("params.yaml"))["featurize"]["max_features"]
prepared, features = sys.argv[1], sys.argv[2]


def read(name):
    return [line.split("\t", 1) for line in open(os.path.join(prepared, name)).read().splitlines()]


train, test = read("train.tsv"), read("test.tsv")
counts = collections.Counter(w for _, text in train for w in words(text))
vocabulary = sorted(w for w, _ in counts.most_common(max_features))
os.makedirs(features, exist_ok=True)
for name, rows in (("train.json", train), ("test.json", test)):
    encoded = [{"label": int(label), "words": [w for w in words(text) if w in vocabulary]} for label, text in rows]
    json.dump(encoded, open(os.path.join(features, name), "w"))
print(f"{len(vocabulary)} features")
