from .training import training
