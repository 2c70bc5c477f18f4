"""Split data/data.tsv into train and test sets: python src/prepare.py INPUT."""

import os
import random
import sys

import yaml

params = yaml.safe_load(open("params.yaml"))["prepare"]

if len(sys.argv) != 2:
    sys.stderr.write("usage: python prepare.py data-file\n")
    sys.exit(1)

random.seed(params["seed"])
rows = open(sys.argv[1], encoding="utf-8").read().splitlines()
os.makedirs(os.path.join("data", "prepared"), exist_ok=True)
with open("data/prepared/train.tsv", "w") as train, open("data/prepared/test.tsv", "w") as test:
    for row in rows:
        (test if random.random() < params["split"] else train).write(row + "\n")
