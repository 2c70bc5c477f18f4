from .data_loader import data_loader
from .data_preprocessor import data_preprocessor
from .data_splitter import data_splitter
from .model_evaluator import model_evaluator
from .model_trainer import model_trainer
