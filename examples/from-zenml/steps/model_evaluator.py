import logging

import pandas as pd
from sklearn.base import ClassifierMixin

try:
    from zenml import log_metadata, step
except ImportError:  # run by zplan without ZenML installed
    from zplan import log_metadata, step

logger = logging.getLogger(__name__)


@step
def model_evaluator(
    model: ClassifierMixin,
    dataset_trn: pd.DataFrame,
    dataset_tst: pd.DataFrame,
    min_train_accuracy: float = 0.0,
    min_test_accuracy: float = 0.0,
    target: str = "target",
) -> float:
    trn_acc = model.score(dataset_trn.drop(columns=[target]), dataset_trn[target])
    tst_acc = model.score(dataset_tst.drop(columns=[target]), dataset_tst[target])
    logger.info("Train accuracy=%.2f%%", trn_acc * 100)
    logger.info("Test accuracy=%.2f%%", tst_acc * 100)
    for name, value, minimum in (("Train", trn_acc, min_train_accuracy), ("Test", tst_acc, min_test_accuracy)):
        if value < minimum:
            logger.warning("%s accuracy %.2f%% is below %.2f%%!", name, value * 100, minimum * 100)
    log_metadata(metadata={"train_accuracy": float(trn_acc), "test_accuracy": float(tst_acc)})
    return float(tst_acc)
