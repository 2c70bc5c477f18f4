"""Accuracy on the test set: python src/evaluate.py MODEL_FILE FEATURES_DIR."""

import json
import os
import sys

model = json.load(open(sys.argv[1]))
rows = json.load(open(os.path.join(sys.argv[2], "test.json")))


def predict(words):
    scores = {label: sum(weights.get(w, 0.0) for w in words) for label, weights in model.items()}
    return int(max(scores, key=scores.get))


correct = sum(predict(row["words"]) == row["label"] for row in rows)
os.makedirs("eval", exist_ok=True)
json.dump({"accuracy": round(correct / max(len(rows), 1), 4), "test_rows": len(rows)}, open("eval/metrics.json", "w"))
