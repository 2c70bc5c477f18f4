from typing import Optional

from zenml import pipeline

from steps import data_loader, data_preprocessor, data_splitter, model_evaluator, model_trainer


@pipeline
def training(
    random_state: int = 17,
    test_size: float = 0.2,
    model_type: str = "sgd",
    min_train_accuracy: float = 0.8,
    min_test_accuracy: float = 0.8,
    target: Optional[str] = "target",
):
    """ZenML's starter training pipeline: load, split, preprocess, train, evaluate."""
    raw_data = data_loader(random_state=random_state, target=target)
    dataset_trn, dataset_tst = data_splitter(dataset=raw_data, test_size=test_size)
    dataset_trn, dataset_tst, _ = data_preprocessor(dataset_trn=dataset_trn, dataset_tst=dataset_tst, target=target)
    model = model_trainer(dataset_trn=dataset_trn, model_type=model_type, target=target)
    model_evaluator(
        model=model,
        dataset_trn=dataset_trn,
        dataset_tst=dataset_tst,
        min_train_accuracy=min_train_accuracy,
        min_test_accuracy=min_test_accuracy,
        target=target,
    )
