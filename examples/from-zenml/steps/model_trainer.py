import logging

import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.linear_model import SGDClassifier
from sklearn.tree import DecisionTreeClassifier
from typing_extensions import Annotated

try:
    from zenml import step
except ImportError:  # run by zplan without ZenML installed
    from zplan import step

logger = logging.getLogger(__name__)


@step
def model_trainer(dataset_trn: pd.DataFrame, model_type: str = "sgd", target: str = "target") -> Annotated[ClassifierMixin, "sklearn_classifier"]:
    if model_type == "sgd":
        model = SGDClassifier(random_state=42)
    elif model_type == "rf":
        model = DecisionTreeClassifier(random_state=42)
    else:
        raise ValueError(f"Unknown model type {model_type}")
    logger.info("Training model %s...", model)
    model.fit(dataset_trn.drop(columns=[target]), dataset_trn[target])
    return model
