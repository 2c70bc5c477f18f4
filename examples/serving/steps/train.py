"""Model steps: fit a classifier, then measure it on the held-out data."""

import pandas as pd
from sklearn.linear_model import LogisticRegression

from steps.data import LABEL


def train(train: pd.DataFrame, c: float, seed: int) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    return model.fit(train.drop(columns=[LABEL]).to_numpy(), train[LABEL])


def evaluate(model: LogisticRegression, test: pd.DataFrame) -> float:
    return float(model.score(test.drop(columns=[LABEL]).to_numpy(), test[LABEL]))
