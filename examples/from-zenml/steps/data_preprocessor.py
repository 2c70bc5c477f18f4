from typing import Tuple

import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from typing_extensions import Annotated

try:
    from zenml import step
except ImportError:  # run by zplan without ZenML installed
    from zplan import step


@step
def data_preprocessor(dataset_trn: pd.DataFrame, dataset_tst: pd.DataFrame, target: str = "target") -> Tuple[
    Annotated[pd.DataFrame, "dataset_trn"],
    Annotated[pd.DataFrame, "dataset_tst"],
    Annotated[Pipeline, "preprocess_pipeline"],
]:
    """Scale every feature to [0, 1], fitted on the training set only."""
    features = [c for c in dataset_trn.columns if c != target]
    preprocess_pipeline = Pipeline([("minmax", MinMaxScaler())]).fit(dataset_trn[features])
    dataset_trn = dataset_trn.assign(**dict(zip(features, preprocess_pipeline.transform(dataset_trn[features]).T)))
    dataset_tst = dataset_tst.assign(**dict(zip(features, preprocess_pipeline.transform(dataset_tst[features]).T)))
    return dataset_trn, dataset_tst, preprocess_pipeline
