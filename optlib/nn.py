r"""Small numpy models with hand-written, vectorized backpropagation.

Every model has the same interface, which is all :func:`optlib.train.fit` and
the optimizers need:

``params``
    a dict of named parameter arrays (updated in place by an optimizer);
``loss_and_grad(X, y, l2=0.0) -> (loss, grads)``
    the mean loss over the rows of ``X`` (a Python float) and a dict of
    gradients with the same names, shapes and dtype as ``params``;
``predict(X)``, ``loss(X, y)``, ``evaluate(X, y)``
    forward passes only.

Models
------
:class:`MLP`
    a multilayer perceptron with softmax cross-entropy loss; ``MLP([784, 10])``
    (no hidden layer) is multinomial logistic regression.
:func:`logistic_loss_and_grad`
    binary logistic regression as a plain function of a weight vector (or
    of many at once, for batched learning-rate sweeps).
:class:`LinearRegression`
    least squares, :math:`f(w, b) = \frac{1}{2n}\lVert Xw + b\mathbf{1} - y\rVert^2`,
    with its closed-form solution :meth:`LinearRegression.closed_form`.

Conventions
-----------
Rows of ``X`` are examples: :math:`X \in \mathbb{R}^{n \times d}`. A layer
computes :math:`Z_l = A_{l-1} W_l + b_l` with :math:`W_l` of shape
``(fan_in, fan_out)`` (the transpose of ``torch.nn.Linear.weight``). The L2
penalty :math:`\frac{\omega}{2}\sum_l \lVert W_l\rVert_F^2` (``l2`` is
:math:`\omega`) covers the **weights only, not the biases**; its gradient
:math:`\omega W_l` is what ``weight_decay=ω`` adds inside ``SGD``/``Adam``.
Gradients are computed in the model's dtype (float32 model, float32 grads):
the optimizers refuse grads whose dtype differs from the parameters'.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MLP", "LinearRegression", "softmax", "ACTIVATIONS", "INITS",
           "logistic_loss_and_grad"]

#: Activation names accepted by :class:`MLP` ("identity" is an alias of "linear").
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "identity")
#: Weight initialisations accepted by :class:`MLP` ("glorot" is an alias of "xavier").
INITS = ("he", "xavier", "glorot", "zeros")

#: Rows per forward pass in ``evaluate``: bounds the memory of the activations.
EVAL_BATCH = 8192

Grads = dict[str, np.ndarray]


# ----------------------------------------------------------------------------
# checks shared by the models
# ----------------------------------------------------------------------------

def _check_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dt}")
    return dt


def _check_l2(l2: Any) -> float:
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not np.isfinite(l2) or l2 < 0:
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    return float(l2)   # a Python float keeps float32 arithmetic in float32


def _check_X(X: Any, n_features: int, dtype: np.dtype) -> np.ndarray:
    """``X`` as a 2-D array of the model's dtype (a copy only if the dtype differs)."""
    X = np.asarray(X)
    if X.ndim != 2:
        hint = "; for a single feature use X[:, None]" if X.ndim == 1 else ""
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}{hint}")
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features (columns) but the model expects {n_features}")
    if X.shape[0] == 0:
        raise ValueError("X has no rows: pass at least one example")
    if X.dtype.kind not in "biufc":          # bool, integers, floats, complex
        raise ValueError(f"X must hold numbers, got dtype {X.dtype}")
    return X if X.dtype == dtype else np.asarray(X, dtype=dtype)


def _check_labels(y: Any, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (one class label per row of X), got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"y must hold integer class labels 0..{n_classes - 1}, got dtype {y.dtype}; "
            "for one-hot targets pass y.argmax(axis=1)"
        )
    low, high = np.minimum.reduce(y), np.maximum.reduce(y)
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise ValueError(f"y holds label {bad}, outside 0..{n_classes - 1} (the model has {n_classes} classes)")
    return y


def _check_targets(y: Any, n: int, dtype: np.dtype) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (one target per row of X), got {y.shape}")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
        raise ValueError(f"y must hold numbers, got dtype {y.dtype}")
    return np.asarray(y, dtype=dtype)


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _flat_views(shapes: dict[str, tuple[int, ...]], dtype: np.dtype) -> dict[str, np.ndarray]:
    """Uninitialised arrays of these shapes, views of one flat buffer in this order.

    An optimizer updates leaves that lie side by side in one buffer as a
    single array (see :class:`optlib.optimizers.Optimizer`), so a model whose
    parameters and gradients are laid out this way is updated with a dozen
    numpy calls instead of a dozen per array.
    """
    # math.prod, not np.prod: this runs on every loss_and_grad, and np.prod of
    # a shape tuple costs microseconds (an epoch of the book's MLP: 5% of its time)
    flat = np.empty(sum(math.prod(shape) for shape in shapes.values()), dtype=dtype)
    views, start = {}, 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        views[name] = flat[start:start + size].reshape(shape)
        start += size
    return views


def _in_one_buffer(arrays: dict[str, np.ndarray], dtype: np.dtype) -> dict[str, np.ndarray]:
    """Copies of ``arrays`` (cast to ``dtype``) as views of one flat buffer (see _flat_views)."""
    views = _flat_views({name: a.shape for name, a in arrays.items()}, dtype)
    for name, a in arrays.items():
        views[name][...] = a
    return views


# ----------------------------------------------------------------------------
# softmax cross-entropy
# ----------------------------------------------------------------------------

def softmax(logits: Any, axis: int = -1) -> np.ndarray:
    r"""Numerically stable softmax :math:`p_k = e^{z_k - m} / \sum_j e^{z_j - m}`, :math:`m = \max_j z_j`.

    Subtracting the maximum changes nothing mathematically but keeps every
    exponent :math:`\le 0`, so ``exp`` cannot overflow even for logits of 1e4.
    """
    z = np.array(logits, dtype=np.result_type(logits, np.float32), copy=True)
    z -= z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def _softmax_cross_entropy(logits: np.ndarray, y: np.ndarray, *, grad: bool
                           ) -> tuple[float, np.ndarray | None]:
    r"""Mean cross-entropy and its gradient; **overwrites** ``logits``.

    With :math:`m_i = \max_k Z_{ik}` (log-sum-exp trick),

    .. math::

        \ell = \frac1n \sum_i \Big(m_i + \log\sum_k e^{Z_{ik} - m_i} - Z_{i y_i}\Big),
        \qquad \frac{\partial \ell}{\partial Z} = \frac1n\big(\operatorname{softmax}(Z) - Y\big)

    where :math:`Y` is one-hot. The gradient is written into the logits'
    buffer: the forward pass's last array is reused, nothing new of size
    ``(n, K)`` is allocated.
    """
    # (the ufuncs' own reduce methods: for arrays this small the call is the cost)
    n = logits.shape[0]
    rows = np.arange(n)
    logits -= np.maximum.reduce(logits, axis=1, keepdims=True)   # Z - m: every exponent <= 0
    picked = logits[rows, y]                             # Z_{i y_i} - m_i
    np.exp(logits, out=logits)
    sums = np.add.reduce(logits, axis=1, keepdims=True)  # >= 1, so the log is finite
    per_row = np.log(sums[:, 0])
    per_row -= picked
    loss = float(np.add.reduce(per_row, dtype=np.float64)) / n
    if not grad:
        return loss, None
    sums *= n
    logits /= sums                                       # softmax(Z) / n ...
    logits[rows, y] -= 1.0 / n                           # ... - Y / n
    return loss, logits


# ----------------------------------------------------------------------------
# activations: forward in place, derivative from the activation's output
# ----------------------------------------------------------------------------

def _activate(name: str, Z: np.ndarray) -> None:
    """Apply the activation to ``Z`` in place."""
    if name == "relu":
        np.maximum(Z, 0, out=Z)
    elif name == "tanh":
        np.tanh(Z, out=Z)
    elif name == "sigmoid":
        # σ(z) = (1 + tanh(z/2)) / 2: same value as 1/(1+e^{-z}), but no exp to overflow
        Z *= 0.5
        np.tanh(Z, out=Z)
        Z += 1
        Z *= 0.5
    # "linear": identity, nothing to do


def _backprop_activation(name: str, dA: np.ndarray, A: np.ndarray) -> None:
    r"""``dA *= σ'(Z)`` in place, with σ' written through the output :math:`A = σ(Z)`.

    relu: :math:`1[A > 0]`; tanh: :math:`1 - A^2`; sigmoid: :math:`A(1 - A)`.
    Using :math:`A` means the forward pass need not keep :math:`Z`.
    """
    if name == "relu":
        np.multiply(dA, A > 0, out=dA)
    elif name == "tanh":
        deriv = np.multiply(A, A)
        np.subtract(1, deriv, out=deriv)
        dA *= deriv
    elif name == "sigmoid":
        deriv = np.subtract(1, A)
        deriv *= A
        dA *= deriv


# ----------------------------------------------------------------------------
# the multilayer perceptron
# ----------------------------------------------------------------------------

class MLP:
    r"""Multilayer perceptron for classification, trained on softmax cross-entropy.

    With :math:`A_0 = X` and layers :math:`l = 1, \dots, L`,

    .. math::

        Z_l = A_{l-1} W_l + b_l, \qquad A_l = \sigma(Z_l) \ (l < L), \qquad
        \ell = \frac1n \sum_{i=1}^n \Big(\log\sum_k e^{Z_{L,ik}} - Z_{L,i y_i}\Big)
               + \frac{\omega}{2}\sum_{l=1}^L \lVert W_l\rVert_F^2 .

    The last layer has no activation: :math:`Z_L` are the logits. The penalty
    :math:`\omega` (``l2``) covers the weights only, not the biases.

    Backpropagation, with :math:`\Delta_l = \partial\ell/\partial Z_l`:

    .. math::

        \Delta_L = \tfrac1n(\operatorname{softmax}(Z_L) - Y), \quad
        \frac{\partial\ell}{\partial W_l} = A_{l-1}^\top \Delta_l + \omega W_l, \quad
        \frac{\partial\ell}{\partial b_l} = \mathbf{1}^\top \Delta_l, \quad
        \Delta_{l-1} = (\Delta_l W_l^\top) \odot \sigma'(Z_{l-1}).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[d, h_1, ..., h_{L-1}, K]``: ``d`` inputs, ``K``
        classes. ``MLP([784, 10])`` is multinomial logistic regression.
    activation : {"relu", "tanh", "sigmoid", "linear"}
        Hidden-layer activation :math:`\sigma` ("identity" = "linear").
    init : {"he", "xavier", "glorot", "zeros"}
        Weight initialisation; biases start at zero.
        "he": :math:`W \sim \mathcal N(0, 2/\text{fan\_in})` (He et al. 2015,
        ``torch.nn.init.kaiming_normal_``), the choice for relu.
        "xavier"/"glorot": :math:`W \sim U(-a, a)`,
        :math:`a = \sqrt{6/(\text{fan\_in} + \text{fan\_out})}` (Glorot & Bengio
        2010, ``xavier_uniform_``), the choice for tanh and sigmoid.
        "zeros": only without hidden layers (logistic regression is convex and
        fine at zero; hidden units started equal stay equal forever).
    seed : int
        Seed of ``np.random.default_rng`` for the initial weights. Weights are
        drawn in float64 and then rounded, so float32 and float64 models with
        the same seed start at the same point (up to rounding).
    dtype : np.float32 or np.float64
        Dtype of parameters, activations and gradients. Inputs of another
        dtype are converted on every call (pass data in the model's dtype to
        avoid the copy).

    Attributes
    ----------
    params : dict of ndarray
        ``W1, b1, W2, b2, ...``; ``W_l`` has shape ``(sizes[l-1], sizes[l])``.
        They are views of one flat buffer, in this order, and so are the
        gradients of :meth:`loss_and_grad` (of a new buffer on each call):
        an optimizer then updates the whole model as one array. Assign
        values in place (``params["W1"][...] = W``) to keep that layout;
        replacing an array works too, but is updated leaf by leaf.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", init: str = "he",
                 seed: int = 0, dtype: Any = np.float32) -> None:
        self.sizes = self._check_sizes(sizes)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if init == "zeros" and len(self.sizes) > 2:
            raise ValueError(
                "init='zeros' leaves every hidden unit identical (they get identical "
                "gradients and never become different); use init='he' for relu or "
                "init='xavier' for tanh/sigmoid. 'zeros' is fine for MLP([d, K]) only"
            )
        self.activation = "linear" if activation == "identity" else activation
        self.init = "xavier" if init == "glorot" else init
        self.seed = seed
        self.dtype = _check_dtype(dtype)
        self.params: dict[str, np.ndarray] = self._initial_params(np.random.default_rng(seed))

    @staticmethod
    def _check_sizes(sizes: Any) -> list[int]:
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
            raise ValueError(
                f"sizes must be a list of at least two layer widths [n_inputs, ..., n_classes], got {sizes!r}"
            )
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
                raise ValueError(f"sizes must hold positive integers, got {s!r} in {list(sizes)}")
        if sizes[-1] < 2:
            raise ValueError(f"the last size is the number of classes and must be >= 2, got {sizes[-1]}")
        return [int(s) for s in sizes]

    def _initial_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        params = {}
        for l, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            if self.init == "he":
                W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
            elif self.init == "xavier":
                bound = np.sqrt(6.0 / (fan_in + fan_out))
                W = rng.uniform(-bound, bound, size=(fan_in, fan_out))
            else:
                W = np.zeros((fan_in, fan_out))
            params[f"W{l}"] = W
            params[f"b{l}"] = np.zeros(fan_out)
        return _in_one_buffer(params, self.dtype)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickle and copy.deepcopy rebuild the parameters as separate arrays:
        # put them back into one buffer
        self.__dict__.update(state)
        self.params = _in_one_buffer(self.params, self.dtype)

    @property
    def n_layers(self) -> int:
        """Number of weight layers :math:`L`."""
        return len(self.sizes) - 1

    @property
    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.params.values())

    def __repr__(self) -> str:
        return (f"MLP({self.sizes}, activation={self.activation!r}, init={self.init!r}, "
                f"seed={self.seed}, dtype=np.{self.dtype.name})")

    # -- forward and backward ---------------------------------------------

    def _forward(self, X: np.ndarray) -> list[np.ndarray]:
        """``[A_0 = X, A_1, ..., A_{L-1}, Z_L]``: every activation, kept for backprop."""
        activations = [X]
        A = X
        for l in range(1, self.n_layers + 1):
            Z = A @ self.params[f"W{l}"]
            Z += self.params[f"b{l}"]
            if l < self.n_layers:
                _activate(self.activation, Z)       # in place: Z becomes A_l
            activations.append(Z)
            A = Z
        return activations

    def logits(self, X: Any) -> np.ndarray:
        """The output layer :math:`Z_L` (before softmax), shape ``(n, K)``."""
        X = _check_X(X, self.sizes[0], self.dtype)
        return self._forward(X)[-1]

    def loss_and_grad(self, X: Any, y: Any, l2: float = 0.0) -> tuple[float, Grads]:
        r"""Mean softmax cross-entropy (+ weight penalty) and its gradient.

        Parameters
        ----------
        X : array, shape (n, d)
        y : int array, shape (n,)
            Class labels in ``0..K-1``.
        l2 : float
            :math:`\omega \ge 0`; adds :math:`\frac{\omega}{2}\sum_l\lVert W_l\rVert_F^2`
            to the loss and :math:`\omega W_l` to each weight gradient
            (biases are not penalised).

        Returns
        -------
        loss : float
        grads : dict of ndarray
            Same keys, shapes and dtype as :attr:`params`.
        """
        l2 = _check_l2(l2)
        X = _check_X(X, self.sizes[0], self.dtype)
        y = _check_labels(y, X.shape[0], self.sizes[-1])
        activations = self._forward(X)
        loss, delta = _softmax_cross_entropy(activations[-1], y, grad=True)
        # a new flat buffer on every call, laid out like the parameters
        grads = _flat_views({name: p.shape for name, p in self.params.items()}, self.dtype)
        for l in range(self.n_layers, 0, -1):
            W = self.params[f"W{l}"]
            grad_W = np.matmul(activations[l - 1].T, delta, out=grads[f"W{l}"])  # A_{l-1}^T Δ_l
            if l2:
                grad_W += l2 * W
                loss += 0.5 * l2 * float(np.vdot(W, W))
            np.sum(delta, axis=0, out=grads[f"b{l}"])               # 1^T Δ_l
            if l > 1:
                delta = delta @ W.T                                 # Δ_l W_l^T ...
                _backprop_activation(self.activation, delta, activations[l - 1])  # ... ⊙ σ'
        return loss, grads

    # -- forward-only -----------------------------------------------------

    def loss(self, X: Any, y: Any, l2: float = 0.0) -> float:
        """The loss of :meth:`loss_and_grad` without the gradient."""
        l2 = _check_l2(l2)
        X = _check_X(X, self.sizes[0], self.dtype)
        y = _check_labels(y, X.shape[0], self.sizes[-1])
        loss, _ = _softmax_cross_entropy(self._forward(X)[-1], y, grad=False)
        if l2:
            loss += 0.5 * l2 * sum(float(np.vdot(W, W)) for name, W in self.params.items()
                                   if name.startswith("W"))
        return loss

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities :math:`\\operatorname{softmax}(Z_L)`, shape ``(n, K)``."""
        return softmax(self.logits(X), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class per row, :math:`\\arg\\max_k Z_{L,ik}` (int array, shape ``(n,)``)."""
        return self.logits(X).argmax(axis=1)

    def accuracy(self, X: Any, y: Any) -> float:
        """Fraction of rows whose predicted class equals ``y``."""
        X = _check_X(X, self.sizes[0], self.dtype)
        y = _check_labels(y, X.shape[0], self.sizes[-1])
        return float(np.mean(self._forward(X)[-1].argmax(axis=1) == y))

    def evaluate(self, X: Any, y: Any, batch_size: int = EVAL_BATCH) -> dict[str, float]:
        """Mean cross-entropy (no penalty) and accuracy, in chunks of ``batch_size`` rows.

        One forward pass gives both numbers; chunking bounds the memory of the
        activations on large data sets.
        """
        X = _check_X(X, self.sizes[0], self.dtype)
        y = _check_labels(y, X.shape[0], self.sizes[-1])
        n = X.shape[0]
        loss_sum, correct = 0.0, 0
        for rows in _chunks(n, batch_size):
            logits = self._forward(X[rows])[-1]
            correct += int(np.count_nonzero(logits.argmax(axis=1) == y[rows]))
            chunk_loss, _ = _softmax_cross_entropy(logits, y[rows], grad=False)
            loss_sum += chunk_loss * (rows.stop - rows.start)
        return {"loss": loss_sum / n, "accuracy": correct / n}


# ----------------------------------------------------------------------------
# linear regression
# ----------------------------------------------------------------------------

class LinearRegression:
    r"""Least-squares linear regression, the running example of the gradient-descent chapter.

    .. math::

        f(w, b) = \frac{1}{2n}\lVert Xw + b\mathbf 1 - y\rVert^2 + \frac{\omega}{2}\lVert w\rVert^2,
        \qquad
        \nabla_w f = \tfrac1n X^\top r + \omega w, \quad
        \frac{\partial f}{\partial b} = \tfrac1n \mathbf 1^\top r,

    with residual :math:`r = Xw + b\mathbf 1 - y`. The factor :math:`\frac12`
    makes the gradient free of a 2 (the convention of most textbooks; the
    *mean* squared error :math:`\frac1n\lVert r\rVert^2` is twice this loss).
    The penalty (``l2`` = :math:`\omega`) does not cover the bias.

    Parameters
    ----------
    n_features : int
        :math:`d`, the number of columns of ``X``.
    bias : bool
        Fit the intercept :math:`b` (``params["b"]``, a 0-d array).
    init : {"zeros", "normal"}
        :math:`w = 0`, or :math:`w \sim \mathcal N(0, 1/d)`; :math:`b` starts at 0.
    seed : int
        Seed for ``init="normal"``.
    dtype : np.float32 or np.float64

    Attributes
    ----------
    params : dict of ndarray
        ``w`` of shape ``(d,)`` and, with ``bias=True``, ``b`` of shape ``()``.
    """

    def __init__(self, n_features: int, bias: bool = True, init: str = "zeros", seed: int = 0,
                 dtype: Any = np.float64) -> None:
        if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral) or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        if init not in ("zeros", "normal"):
            raise ValueError(f"init must be 'zeros' or 'normal', got {init!r}")
        self.n_features = int(n_features)
        self.bias = bool(bias)
        self.init = init
        self.seed = seed
        self.dtype = _check_dtype(dtype)
        if init == "normal":
            w = np.random.default_rng(seed).normal(0.0, np.sqrt(1.0 / n_features), size=n_features)
        else:
            w = np.zeros(n_features)
        self.params: dict[str, np.ndarray] = {"w": w.astype(self.dtype)}
        if self.bias:
            self.params["b"] = np.zeros((), dtype=self.dtype)

    def __repr__(self) -> str:
        return (f"LinearRegression(n_features={self.n_features}, bias={self.bias}, "
                f"init={self.init!r}, dtype=np.{self.dtype.name})")

    def _residual(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = X @ self.params["w"]
        if self.bias:
            r += self.params["b"]
        r -= y
        return r

    def predict(self, X: Any) -> np.ndarray:
        """:math:`Xw + b`, shape ``(n,)``."""
        X = _check_X(X, self.n_features, self.dtype)
        out = X @ self.params["w"]
        if self.bias:
            out += self.params["b"]
        return out

    def loss_and_grad(self, X: Any, y: Any, l2: float = 0.0) -> tuple[float, Grads]:
        r""":math:`f(w, b)` and its gradient (see the class docstring).

        Returns
        -------
        loss : float
        grads : dict of ndarray
            ``w`` and ``b``, same shapes and dtype as :attr:`params`.
        """
        l2 = _check_l2(l2)
        X = _check_X(X, self.n_features, self.dtype)
        y = _check_targets(y, X.shape[0], self.dtype)
        n = X.shape[0]
        w = self.params["w"]
        r = self._residual(X, y)
        loss = float(r @ r) / (2 * n)
        grad_w = X.T @ r                                     # X^T r ...
        grad_w *= 1.0 / n                                    # ... / n
        grads: Grads = {"w": grad_w}
        if l2:
            grad_w += l2 * w
            loss += 0.5 * l2 * float(w @ w)
        if self.bias:
            grads["b"] = np.array(r.sum() / n, dtype=self.dtype)
        return loss, grads

    def loss(self, X: Any, y: Any, l2: float = 0.0) -> float:
        """:math:`f(w, b)` without the gradient."""
        l2 = _check_l2(l2)
        X = _check_X(X, self.n_features, self.dtype)
        y = _check_targets(y, X.shape[0], self.dtype)
        r = self._residual(X, y)
        w = self.params["w"]
        return float(r @ r) / (2 * X.shape[0]) + 0.5 * l2 * float(w @ w)

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """The unpenalised loss ``{"loss": f(w, b)}`` (regression has no accuracy)."""
        return {"loss": self.loss(X, y)}

    @classmethod
    def closed_form(cls, X: Any, y: Any, l2: float = 0.0, bias: bool = True,
                    dtype: Any = np.float64) -> "LinearRegression":
        r"""The exact minimiser of :math:`f`, as a fitted model (computed in float64).

        Without penalty: least squares on the augmented matrix :math:`[X\ \mathbf 1]`
        through ``np.linalg.lstsq`` (an SVD, so rank-deficient ``X`` gets the
        minimum-norm solution). With :math:`\omega > 0` (ridge): on centred data
        :math:`\bar X = X - \mathbf 1\mu^\top`, :math:`\bar y = y - \bar y\mathbf 1`,

        .. math::

            (\tfrac1n \bar X^\top \bar X + \omega I)\, w = \tfrac1n \bar X^\top \bar y,
            \qquad b = \bar y - \mu^\top w,

        the point where the gradient of :meth:`loss_and_grad` vanishes.
        """
        l2 = _check_l2(l2)
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
        model = cls(X.shape[1], bias=bias, dtype=dtype)
        X = _check_X(X, X.shape[1], np.dtype(np.float64))
        y = _check_targets(y, X.shape[0], np.dtype(np.float64))
        n, d = X.shape
        if l2 == 0.0:
            A = np.hstack([X, np.ones((n, 1))]) if bias else X
            coef = np.linalg.lstsq(A, y, rcond=None)[0]
            w, b = coef[:d], (coef[d] if bias else 0.0)
        else:
            mu, y_mean = (X.mean(axis=0), y.mean()) if bias else (np.zeros(d), 0.0)
            Xc = X - mu
            w = np.linalg.solve(Xc.T @ Xc / n + l2 * np.eye(d), Xc.T @ (y - y_mean) / n)
            b = y_mean - mu @ w
        model.params["w"][...] = w
        if bias:
            model.params["b"][...] = b
        return model


# ----------------------------------------------------------------------------
# binary logistic regression, for one or many weight vectors at once
# ----------------------------------------------------------------------------

def logistic_loss_and_grad(w: Any, X: Any, y: Any, l2: float = 0.0) -> tuple[Any, np.ndarray]:
    r"""Binary logistic regression: the mean loss and its gradient.

    With logits :math:`z_i = x_i^\top w` and labels :math:`y_i \in \{0, 1\}`,

    .. math::

        f(w) = \frac1n \sum_{i=1}^n \bigl(\log(1 + e^{z_i}) - y_i z_i\bigr)
               + \frac{\omega}{2}\lVert w\rVert^2, \qquad
        \nabla f(w) = \frac1n X^\top\bigl(\sigma(z) - y\bigr) + \omega w,

    where :math:`\sigma(z) = 1/(1 + e^{-z})` and :math:`\omega` = ``l2``.
    :math:`\log(1 + e^{z})` is computed as ``np.logaddexp(0, z)`` and
    :math:`\sigma` through :math:`\tanh`, so no exponential overflows. There is
    no separate intercept: append a column of ones to ``X`` for one. (This is
    :class:`MLP` ``([d, 2])`` with the logit difference :math:`z = z_1 - z_0`
    as the one output, without the redundant second weight vector.)

    **Many runs at once.** Leading axes are batch axes that broadcast, as in
    ``np.matmul``: ``w`` of shape ``(..., d)``, ``X`` of shape ``(..., n, d)``
    and ``y`` of shape ``(..., n)``. For ``r`` weight vectors on one data set
    pass ``w`` of shape ``(r, d)`` with ``X`` of shape ``(n, d)``; for
    ``r`` learning rates on each of ``s`` data sets, ``w`` of shape
    ``(s, r, d)``, ``X`` of shape ``(s, 1, n, d)``, ``y`` of shape ``(s, 1, n)``.
    The batch shape of ``w`` must be the broadcast batch shape (every weight
    vector gets its own gradient).

    Parameters
    ----------
    w : ndarray, shape (..., d)
        Weights, float32 or float64; the gradient has the same dtype.
    X : array_like, shape (..., n, d)
        Features, one example per row.
    y : array_like, shape (..., n)
        Labels 0 or 1.
    l2 : float
        :math:`\omega \ge 0`.

    Returns
    -------
    loss : float, or ndarray of the batch shape
        A Python float when ``w`` is 1-D and ``X`` 2-D.
    grad : ndarray, same shape and dtype as ``w``
    """
    l2 = _check_l2(l2)
    w = np.asarray(w)
    if w.ndim < 1 or w.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"w must be a float32 or float64 array of shape (..., d), "
                         f"got dtype {w.dtype} and shape {w.shape}")
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[-1] != w.shape[-1]:
        raise ValueError(f"X must have shape (..., n, d) with d = {w.shape[-1]} (the length "
                         f"of w's last axis), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must hold real numbers, got dtype {X.dtype}")
    X = X.astype(w.dtype, copy=False)
    y = np.asarray(y)
    if y.shape[-1:] != X.shape[-2:-1]:
        raise ValueError(f"y must have shape (..., n) with n = {X.shape[-2]} (the rows of X), "
                         f"got shape {y.shape}")
    if y.size and not np.all((y == 0) | (y == 1)):
        raise ValueError("y must hold labels 0 and 1")
    batch = np.broadcast_shapes(w.shape[:-1], X.shape[:-2], y.shape[:-1])
    if batch != w.shape[:-1]:
        raise ValueError(f"the batch axes of w {w.shape[:-1]} must be the broadcast batch "
                         f"shape {batch} of w, X and y: every weight vector needs its own row")
    y = y.astype(w.dtype)
    n = X.shape[-2]
    z = np.matmul(X, w[..., None])[..., 0]                 # logits, (..., n)
    loss = np.mean(np.logaddexp(0, z) - y * z, axis=-1)    # mean of log(1 + e^z) - y z
    residual = 0.5 * (1 + np.tanh(0.5 * z))                # σ(z) ...
    residual -= y                                          # ... - y
    residual /= n
    grad = np.matmul(residual[..., None, :], X)[..., 0, :]  # X^T (σ(z) - y) / n
    grad = np.ascontiguousarray(grad, dtype=w.dtype)
    if l2:
        grad += l2 * w
        loss = loss + 0.5 * l2 * np.sum(w * w, axis=-1)
    if np.ndim(loss) == 0:
        return float(loss), grad
    return loss, grad
