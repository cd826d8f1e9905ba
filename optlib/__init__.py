"""optlib: the library behind *Gradient Descent, from First Principles to Adam*.

``import optlib`` needs numpy only. matplotlib, ipywidgets, tqdm and numba are
imported inside the functions that use them.
"""
from optlib.optimizers import (
    SGD,
    AMSGrad,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    DivergenceError,
    Momentum,
    Nesterov,
    Optimizer,
    RMSprop,
    Yogi,
)
from optlib import schedules

__version__ = "0.1.0"

__all__ = [
    "Optimizer", "SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adadelta",
    "Adam", "AMSGrad", "AdamW", "Yogi", "DivergenceError", "schedules",
]
