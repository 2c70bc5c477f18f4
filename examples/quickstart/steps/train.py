"""Model steps: fit a classifier, then measure it on the held-out data."""

import json
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

from steps.data import LABEL


def train(train: pd.DataFrame, c: float, seed: int) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    return model.fit(train.drop(columns=[LABEL]), train[LABEL])


def evaluate(model: LogisticRegression, test: pd.DataFrame, report_dir: str) -> float:
    accuracy = float(model.score(test.drop(columns=[LABEL]), test[LABEL]))
    Path(report_dir).mkdir(parents=True, exist_ok=True)  # on a cluster worker: that worker's copy of the project
    Path(report_dir, "accuracy.json").write_text(json.dumps({"accuracy": accuracy}) + "\n")
    return round(accuracy, 4)
