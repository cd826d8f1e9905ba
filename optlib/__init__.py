"""optlib: the library behind *Gradient Descent, from First Principles to Adam*.

``import optlib`` needs numpy only. matplotlib, ipywidgets, tqdm and numba are
imported inside the functions that use them: ``optlib.plot`` and
``optlib.widgets`` are imported explicitly (``from optlib import plot``).
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
from optlib import data, nn, rates, schedules, surfaces, sweep, train
from optlib.nn import MLP, LinearRegression
from optlib.train import History, fit, load_checkpoint, save_checkpoint

__version__ = "0.1.0"

__all__ = [
    "Optimizer", "SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adadelta",
    "Adam", "AMSGrad", "AdamW", "Yogi", "DivergenceError",
    "schedules", "surfaces", "data", "nn", "train", "sweep", "rates",
    "MLP", "LinearRegression", "History", "fit", "save_checkpoint", "load_checkpoint",
]
