r"""The benchmarks of ``python -m benchmarks`` and of the book's Performance appendix.

Each function returns a :class:`~benchmarks.harness.Section` (a table):

:func:`optimizer_step`
    one step of Adam, SGD with momentum, RMSprop and Adagrad on many
    float32 parameters, for optlib's numpy code, its fused (numba) path, the
    naive numpy style of most tutorials and ``torch.optim`` (foreach and
    fused), with the effective memory bandwidth of each next to the
    machine's (array copies timed in the same rounds);
:func:`model_step`
    Adam steps on the parameters of a small MLP: one buffer or many arrays;
:func:`mlp_epoch`
    one epoch of ``MLP([784, 100, 10])`` with Adam on MNIST, optlib against
    the same model, loss, initial weights, batches and optimizer in PyTorch,
    and the GFLOP/s of both against a large matrix product (run on one
    thread, and on every core against PyTorch at its default thread count);
:func:`epoch_parts`
    where the one-thread epoch's time goes: minibatches, matrix products,
    the work around them, the optimizer step's checks and Adam's update;
:func:`blas_thread_sweep`
    the same epoch of optlib with one BLAS thread and with every core;
:func:`lr_sweep`
    eight one-epoch trainings at eight learning rates, one after another
    and with :mod:`optlib.sweep` on two processes;
:func:`trajectories`
    many Adam trajectories on Rosenbrock's function in one batched call,
    against a Python loop over starting points and against PyTorch.

:func:`run_all` runs them and checks :data:`TARGETS`. How each is timed is
in :mod:`benchmarks.harness`.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.harness import (
    Row, Section, Target, _TorchThreads, _library_threads, _numba, _timed, _torch,
    _torch_default_threads, check_targets, machine_info, paired_ratio, render,
    render_targets, time_interleaved,
)
from optlib.optimizers import Optimizer
from optlib.threads import available_cores

__all__ = [
    "optimizer_step", "model_step", "mlp_epoch", "epoch_parts", "blas_thread_sweep", "lr_sweep",
    "trajectories", "run_all", "BENCHMARKS", "OPTIMIZERS", "TARGETS", "FULL", "QUICK",
]

#: Default sizes of ``python -m benchmarks``.
FULL = dict(n_params=10_000_000, n_arrays=20, rounds=11, mlp_rows=None, mlp_rounds=5,
            sweep_rounds=5, lr_sweep_rounds=5, matmul_n=2048, n_points=10_000, steps=200,
            loop_sample=100, small_steps=200)
#: Sizes of ``--quick`` and of the book's Performance page (well under a minute).
QUICK = dict(n_params=2_000_000, n_arrays=20, rounds=5, mlp_rows=15_000, mlp_rounds=5,
             sweep_rounds=5, lr_sweep_rounds=5, matmul_n=1024, n_points=2_000, steps=200,
             loop_sample=20, small_steps=100)
#: The benchmarks :func:`run_all` knows, in the order it runs them.
BENCHMARKS = ("step", "small", "mlp", "parts", "threads", "sweep", "trajectories")


# ----------------------------------------------------------------------------
# optimizer step
# ----------------------------------------------------------------------------

def _naive_adam(params, grads, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    # the dict-of-arrays style of most tutorials: a temporary for every sub-expression
    state["t"] += 1
    t = state["t"]
    for k in params:
        g = grads[k]
        state["m"][k] = b1 * state["m"][k] + (1 - b1) * g
        state["v"][k] = b2 * state["v"][k] + (1 - b2) * g**2
        m_hat = state["m"][k] / (1 - b1**t)
        v_hat = state["v"][k] / (1 - b2**t)
        params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)


def _naive_momentum(params, grads, state, lr=1e-3, mu=0.9):
    for k in params:
        state["v"][k] = mu * state["v"][k] + grads[k]
        params[k] -= lr * state["v"][k]


def _naive_rmsprop(params, grads, state, lr=1e-3, alpha=0.99, eps=1e-8):
    for k in params:
        g = grads[k]
        state["v"][k] = alpha * state["v"][k] + (1 - alpha) * g**2
        params[k] -= lr * g / (np.sqrt(state["v"][k]) + eps)


def _naive_adagrad(params, grads, state, lr=1e-3, eps=1e-10):
    for k in params:
        g = grads[k]
        state["v"][k] += g**2
        params[k] -= lr * g / (np.sqrt(state["v"][k]) + eps)


#: The optimizers of :func:`optimizer_step`: optlib class and keyword arguments,
#: torch class and keyword arguments, the naive numpy version, words of 4 bytes
#: read or written per parameter by a one-pass update, and whether torch has a
#: fused CPU kernel for it.
OPTIMIZERS = {
    "Adam": ("Adam", {"lr": 1e-3}, "Adam", {"lr": 1e-3}, _naive_adam, 7, True),
    "SGD momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}, "SGD", {"lr": 1e-3, "momentum": 0.9},
                     _naive_momentum, 5, True),
    "RMSprop": ("RMSprop", {"lr": 1e-3}, "RMSprop", {"lr": 1e-3}, _naive_rmsprop, 5, False),
    "Adagrad": ("Adagrad", {"lr": 1e-3}, "Adagrad", {"lr": 1e-3}, _naive_adagrad, 5, True),
}


def _leaves(n_params: int, n_arrays: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    sizes = [n_params // n_arrays + (i < n_params % n_arrays) for i in range(n_arrays)]
    return {f"w{i}": rng.standard_normal(s, dtype=np.float32) for i, s in enumerate(sizes)}


def optimizer_step(name: str = "Adam", n_params: int = 10_000_000, n_arrays: int = 20,
                   rounds: int = 7, threads: int | None = None, fused: bool | None = None,
                   torch_variants: bool | None = None, pause: float = 0.02) -> Section:
    """One optimizer step on ``n_params`` float32 parameters in ``n_arrays`` arrays.

    Rows: the naive numpy style (reference), optlib (numpy, one thread),
    optlib ``fused=True`` (numba, ``threads`` threads; when numba is
    installed), ``torch.optim`` with ``foreach=True`` and with ``fused=True``
    (``threads`` threads; when torch is installed and has the kernel).

    The rate column is the effective bandwidth: the bytes a one-pass update
    must read and write (Adam: read x, g, m, v, write x, m, v, so 7 words of
    4 bytes per parameter) divided by the time.

    Parameters
    ----------
    name : str
        A key of :data:`OPTIMIZERS`.
    threads : int, optional
        Threads of the fused kernels and of torch (default: every available core).
    fused, torch_variants : bool, optional
        Include those rows (default: when the library is installed).
    """
    import optlib
    from optlib.threads import available_cores, blas_threads

    if name not in OPTIMIZERS:
        raise ValueError(f"name must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    cls_name, kwargs, torch_name, torch_kwargs, naive, words, torch_has_fused = OPTIMIZERS[name]
    threads = threads or available_cores()
    numba = _numba() if fused in (None, True) else None
    torch = _torch() if torch_variants in (None, True) else None
    rng = np.random.default_rng(0)
    grads = _leaves(n_params, n_arrays, rng)
    x0 = _leaves(n_params, n_arrays, rng)

    def fresh():
        return {k: v.copy() for k, v in x0.items()}

    variants: dict[str, Callable[[], Any]] = {}
    labels: dict[str, str] = {}

    p_naive = fresh()
    naive_state = {"t": 0, "m": {k: np.zeros_like(v) for k, v in x0.items()},
                   "v": {k: np.zeros_like(v) for k, v in x0.items()}}
    variants["naive numpy"] = lambda: naive(p_naive, grads, naive_state)
    labels["naive numpy"] = "1"

    p_opt, opt = fresh(), getattr(optlib, cls_name)(**kwargs)
    variants["optlib"] = lambda: opt.step(p_opt, grads)
    labels["optlib"] = "1"

    if numba is not None:
        p_fused, opt_fused = fresh(), getattr(optlib, cls_name)(**kwargs, fused=True)
        variants["optlib fused"] = lambda: opt_fused.step(p_fused, grads)
        labels["optlib fused"] = str(threads)
        # the same without the finiteness check, which torch does not make
        p_bare = fresh()
        opt_bare = getattr(optlib, cls_name)(**kwargs, fused=True, check_finite=False)
        variants["optlib fused unchecked"] = lambda: opt_bare.step(p_bare, grads)
        labels["optlib fused unchecked"] = str(threads)

    roles = {}
    if torch is not None:
        torch_cls = getattr(torch.optim, torch_name)
        t_grads = [torch.from_numpy(g) for g in grads.values()]

        def torch_params():
            ps = [torch.from_numpy(v).requires_grad_() for v in fresh().values()]
            for p, g in zip(ps, t_grads):
                p.grad = g
            return ps

        def on_threads(n, fn):
            # torch's thread count is set right before each call: every torch row
            # says how many threads it had
            def call():
                torch.set_num_threads(n)
                return fn()
            return call

        kinds = ["foreach"] + (["fused"] if torch_has_fused else [])
        for n in sorted({1, threads}):
            for kind in kinds:
                opt_t = torch_cls(torch_params(), **torch_kwargs, **{kind: True})
                label = f"torch {kind} {n}t"
                variants[label], labels[label] = on_threads(n, opt_t.step), str(n)
        roles["torch foreach, same threads as optlib"] = "torch foreach 1t"
        roles["torch fused, same threads as optlib fused"] = f"torch fused {threads}t"
        if torch_has_fused:
            # PyTorch's own way to refuse a non-finite gradient before its fused step:
            # the total norm (what clip_grad_norm_ computes), then the step
            opt_checked = torch_cls(torch_params(), **torch_kwargs, fused=True)

            def checked_step():
                torch.nn.utils.get_total_norm(t_grads, error_if_nonfinite=True, foreach=True)
                opt_checked.step()
            label = f"torch fused + norm check {threads}t"
            variants[label], labels[label] = on_threads(threads, checked_step), str(threads)
            # one read of every gradient as PyTorch makes it (the largest element of
            # each): about what any check made before the update adds to the step
            read_label = f"torch read pass {threads}t"
            variants[read_label] = on_threads(threads,
                                              lambda: [torch.amax(g) for g in t_grads])
            labels[read_label] = str(threads)

    # the machine's memory bandwidth, measured in the same rounds: copies of n_params float32
    src = np.concatenate(list(grads.values()))
    dst = np.empty_like(src)
    variants["numpy copy"] = lambda: np.copyto(dst, src)
    labels["numpy copy"] = "1"
    if torch is not None:
        t_src, t_dst = torch.from_numpy(src), torch.empty(src.size)
        variants[f"torch copy {threads}t"] = on_threads(threads, lambda: t_dst.copy_(t_src))
        labels[f"torch copy {threads}t"] = str(threads)

    first_call = None
    if numba is not None:
        # the first fused call compiles the kernel (or loads it from the disk cache)
        first_call = _timed(variants["optlib fused"])
    # one BLAS thread: optlib's finiteness check starts with a dot product,
    # and its row says "1 thread"
    with _library_threads(numba, torch, threads), blas_threads(1):
        times = time_interleaved(variants, rounds=rounds, pause=pause)

    # yardsticks: words of 4 bytes per element moved by the copies and the read pass
    yardsticks = {label: 1 if "read pass" in label else 2 for label in variants
                  if "copy" in label or "read pass" in label}
    rows = [Row(label, labels[label], times[label], words * 4 * n_params, "GB/s")
            for label in variants if label not in yardsticks]
    rows += [Row(label, labels[label], times[label], n * 4 * n_params, "GB/s", compared=False)
             for label, n in yardsticks.items()]
    ceiling = f"torch copy {threads}t" if torch is not None else "numpy copy"
    notes = [f"rate = effective bandwidth: {words} words of 4 bytes read or written per "
             "parameter (what a one-pass update must move), divided by the time; the copy "
             "rows (2 words per element) are the machine's memory bandwidth, the read pass "
             "(1 word) its rate for reading alone."]
    if first_call is not None:
        notes.append(f"optlib fused: the first call took {first_call:.2f} s (compiling the "
                     "kernel, or loading it from numba's disk cache), excluded above. "
                     "'unchecked' is check_finite=False: no pass over the gradient looking "
                     "for NaN/inf before the update (torch makes none).")
    if torch is not None:
        notes.append("torch runs in this process; 'Nt' rows ran with torch.set_num_threads(N). "
                     f"optlib's numpy code ran on one thread, its fused kernels on {threads}.")
    fused_ref = f"torch fused {threads}t"
    if torch is not None and fused_ref in variants:
        # a check that reads the gradient before the update costs about one read pass
        estimate = 1 + paired_ratio(times[f"torch read pass {threads}t"], times[fused_ref])
        notes.append(
            f"A finiteness check made before the update reads the gradient once more, so a "
            f"checked step costs about the fused step plus one read pass: "
            f"({fused_ref} + torch read pass {threads}t) / {fused_ref} = {estimate:.3g} here, "
            f"against the {words + 1}/{words} = {(words + 1) / words:.3g} that counting words "
            "assumes (reading alone does not stream as fast per word as the update does).")
    refs = [r for r in ("naive numpy", "torch foreach 1t", fused_ref) if r in variants]
    return Section(f"{name} step: {n_params:,} float32 parameters in {n_arrays} arrays",
                   rows, references=refs, notes=notes, ceiling=ceiling, roles=roles)


# ----------------------------------------------------------------------------
# training an MLP on MNIST
# ----------------------------------------------------------------------------

def _mlp_flops(sizes: Sequence[int], n_rows: int) -> float:
    """Floating-point operations of the matrix products of one epoch.

    Forward ``Z_l = A_{l-1} W_l``: ``2 n fan_in fan_out`` per layer; backward,
    the weight gradient ``A_{l-1}^T Δ_l`` for every layer and ``Δ_l W_l^T``
    for every layer but the first (nobody needs the gradient of the input):
    the products optlib and PyTorch both compute.
    """
    layers = list(zip(sizes[:-1], sizes[1:]))
    per_row = sum(2 * a * b for a, b in layers)          # forward
    per_row += sum(2 * a * b for a, b in layers)         # weight gradients
    per_row += sum(2 * a * b for a, b in layers[1:])     # gradients of hidden activations
    return float(per_row * n_rows)


def _torch_mlp(torch, model, lr: float):
    layers = []
    n = model.n_layers
    for l in range(1, n + 1):
        W, b = model.params[f"W{l}"], model.params[f"b{l}"]
        # the model's dtype, whatever torch's default dtype is in this process
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))   # the same initial weights
            linear.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(linear)
        if l < n:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    return net, torch.optim.Adam(net.parameters(), lr=lr)


def _torch_epoch(torch, net, opt, X, y, order, batch_size: int) -> float:
    loss_fn = torch.nn.functional.cross_entropy
    total = 0.0
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(X[index]), y[index])
        loss.backward()
        opt.step()
        total = loss.item()
    return total


def _fit_one_epoch(model, optimizer, X, y, batch_size: int, threads: int) -> float:
    """optlib.train.fit for one epoch with ``threads`` BLAS threads; the last minibatch loss."""
    import inspect

    from optlib.threads import blas_threads
    from optlib.train import fit

    # fit may choose the BLAS threads itself (its threads= argument); pin them either way
    pinned = {"threads": threads} if "threads" in inspect.signature(fit).parameters else {}
    with blas_threads(threads):
        history = fit(model, optimizer, X, y, epochs=1, batch_size=batch_size, seed=0,
                      progress=False, evaluate_train=False, **pinned)
    return float(history.loss[-1])


def _mnist(data: Any, n_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    from optlib.data import load_mnist

    if data is None:
        (X, y), _ = load_mnist()
    else:
        X, y = data
    if n_rows is not None:
        X, y = X[:n_rows], y[:n_rows]
    return np.ascontiguousarray(X, dtype=np.float32), np.asarray(y)


def _median_difference(a: Sequence[float], b: Sequence[float]) -> float:
    """Median over rounds of ``a[r] - b[r]``: the time one variant adds to another."""
    return statistics.median(x - y for x, y in zip(a, b))


def _products_alone(sizes: Sequence[int], X: np.ndarray, batch_size: int) -> Callable[[], None]:
    """The matrix products of one epoch (those :func:`_mlp_flops` counts), and nothing else.

    The same shapes, minibatch by minibatch, from consecutive rows of ``X``:
    no gathering, no bias, activation, loss or update. Their rate is what
    the BLAS library reaches on an epoch's products at these shapes.
    """
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((a, b), dtype=X.dtype) * (1.0 / a**0.5)   # X's dtype
               for a, b in zip(sizes[:-1], sizes[1:])]

    def run() -> None:
        for start in range(0, len(X), batch_size):
            activations = [X[start:start + batch_size]]
            for W in weights:                                # forward: A_{l-1} W_l
                activations.append(activations[-1] @ W)
            delta = activations[-1]                          # stands in for Δ_L: same shape
            for l in range(len(weights), 0, -1):
                activations[l - 1].T @ delta                 # A_{l-1}^T Δ_l
                if l > 1:
                    delta = delta @ weights[l - 1].T         # Δ_l W_l^T
    return run


class _SkippedUpdate(Optimizer):
    """Checks its gradients like any optimizer, then changes nothing."""

    def __init__(self) -> None:
        super().__init__(lr=1e-3)

    def update(self, param, grad, state, lr, t) -> None:
        pass


def mlp_epoch(sizes: Sequence[int] = (784, 100, 10), batch_size: int = 128,
              n_rows: int | None = None, rounds: int = 5, threads: int | None = None,
              matmul_n: int = 2048, fused: bool | None = None,
              torch_variants: bool | None = None, data: Any = None,
              pause: float = 0.05, torch_threads: int | None = None,
              skipped: bool = True, products: bool = True,
              title: str = "Training") -> Section:
    """One epoch of ``MLP(sizes)`` with Adam (lr 1e-3) on MNIST, optlib against PyTorch.

    Both sides start from the same weights (He initialisation drawn by
    :class:`optlib.nn.MLP`, copied into ``torch.nn.Linear``), visit the same
    minibatches (the permutation :func:`optlib.train.fit` draws for epoch 0),
    compute the same mean softmax cross-entropy and use Adam with the same
    settings; PyTorch uses its default CPU Adam and autograd. Every round
    starts from the initial weights again.

    Parameters
    ----------
    n_rows : int, optional
        Train on the first ``n_rows`` examples only (default: all 60,000).
    threads : int, optional
        BLAS threads for optlib (through :func:`optlib.threads.blas_threads`).
        Default: the policy :func:`optlib.threads.threads_for_model`.
    torch_threads : int, optional
        ``torch.set_num_threads`` for PyTorch (default: ``threads``).
    matmul_n : int
        Size of the reference product ``(n, n) @ (n, n)`` in float32, timed
        with ``threads`` threads: the ceiling for GFLOP/s. Its row's time is
        scaled to the epoch's floating-point operations (the time the epoch
        would take at the ceiling), so that ``optlib / float32 matmul`` is
        the inverse of the fraction of the ceiling the epoch reaches.
    skipped : bool
        Include the row with an optimizer that updates nothing.
    products : bool
        Include the row that computes the epoch's matrix products alone
        (:func:`_products_alone`), and a note on what that leaves for the
        rest of the epoch at half the ceiling.
    title : str
        Start of the table's title (targets find their table by it).
    data : tuple, optional
        ``(X, y)`` to use instead of loading MNIST.
    """
    import optlib
    from optlib.nn import MLP
    from optlib.threads import blas_threads, threads_for_model

    numba = _numba() if fused in (None, True) else None
    torch = _torch() if torch_variants in (None, True) else None
    X, y = _mnist(data, n_rows)
    sizes = list(sizes)
    template = MLP(sizes, seed=0)
    threads = threads or threads_for_model(template, batch_size)
    torch_threads = torch_threads or threads
    order = np.random.default_rng([0, 0]).permutation(len(X))   # fit's epoch 0, seed 0
    final_loss: dict[str, float] = {}

    def optlib_run(label: str, make_optimizer: Callable[[], Any]):
        def run():
            final_loss[label] = _fit_one_epoch(MLP(sizes, seed=0), make_optimizer(), X, y,
                                               batch_size, threads)
        return run

    variants: dict[str, Callable[[], Any]] = {
        "optlib": optlib_run("optlib", lambda: optlib.Adam(lr=1e-3))}
    if numba is not None:
        variants["optlib fused Adam"] = optlib_run("optlib fused Adam",
                                                   lambda: optlib.Adam(lr=1e-3, fused=True))
    if skipped:
        # everything but the update's arithmetic: what the optimizer could at best save
        variants["optlib, update skipped"] = optlib_run("optlib, update skipped",
                                                        _SkippedUpdate)
    if torch is not None:
        X_t, y_t = torch.from_numpy(X.copy()), torch.from_numpy(np.array(y, dtype=np.int64))
        order_t = torch.from_numpy(order)

        def torch_run():
            torch.set_num_threads(torch_threads)     # right before the call, as it ran
            net, opt = _torch_mlp(torch, template, 1e-3)
            final_loss["torch"] = _torch_epoch(torch, net, opt, X_t, y_t, order_t, batch_size)
        variants["torch"] = torch_run
    if products:
        variants["matrix products alone"] = _products_alone(sizes, X, batch_size)
    A = np.random.default_rng(1).random((matmul_n, matmul_n), dtype=np.float32)
    variants["float32 matmul"] = lambda: A @ A

    with _library_threads(numba, torch, threads), blas_threads(threads):
        times = time_interleaved(variants, rounds=rounds, pause=pause)

    flops = _mlp_flops(sizes, len(X))
    rows = [Row(label, str(torch_threads if label == "torch" else threads), times[label],
                flops, "GFLOP/s", compared=label != "matrix products alone")
            for label in variants if label != "float32 matmul"]
    rows.append(Row("float32 matmul", str(threads), times["float32 matmul"], flops, "GFLOP/s",
                    scale=flops / (2.0 * matmul_n**3), compared=False))
    notes = [
        f"{len(X):,} examples in batches of {batch_size}; GFLOP/s counts the matrix products "
        "(2mnk for an m-by-k times k-by-n product): forward, weight gradients, hidden-layer "
        f"gradients, {flops / 1e9:.2f} GFLOP per epoch. 'float32 matmul' is "
        f"({matmul_n}, {matmul_n}) @ ({matmul_n}, {matmul_n}), the machine's ceiling at this "
        "thread count; its time is scaled to the epoch's GFLOP (the time of an epoch at the "
        "ceiling).",
        f"threads: BLAS threads for numpy (optlib.threads.blas_threads, {threads}) and "
        f"torch.set_num_threads({torch_threads}) for PyTorch, in this process.",
    ]
    if skipped:
        notes.append(
            "optlib, update skipped: the same epoch with an optimizer whose update does nothing "
            "(its step still checks the gradients), so the parameters never change: the cost "
            "of the data, the forward and backward passes and the loop, without Adam's "
            "arithmetic.")
    if products:
        notes.append(
            "matrix products alone: the epoch's products at its shapes, on consecutive rows, "
            "with nothing else: what the BLAS library reaches on them.")
    if products and skipped:
        # at half the ceiling the epoch may take twice the ceiling's time
        budget = 2 * statistics.median(times["float32 matmul"]) * flops / (2.0 * matmul_n**3)
        alone = statistics.median(times["matrix products alone"])
        beside = _median_difference(times["optlib, update skipped"],
                                    times["matrix products alone"])
        adam = _median_difference(times["optlib"], times["optlib, update skipped"])
        notes.append(
            f"At 50% of the ceiling the epoch may take {1e3 * budget:.0f} ms; the products "
            f"alone take {1e3 * alone:.0f} of them, which leaves {1e3 * (budget - alone):.0f} ms "
            f"for everything else. The epoch with the update skipped spends about "
            f"{1e3 * beside:.0f} ms besides the products (if they cost there what they cost "
            f"alone), and the numpy Adam update adds {1e3 * adam:.0f} ms (optlib - optlib, "
            "update skipped; medians of the differences within a round).")
    notes.append("final minibatch loss: " + ", ".join(
        f"{k} {v:.4f}" for k, v in final_loss.items() if k != "optlib, update skipped"))
    return Section(f"{title}: one epoch of MLP({sizes}) with Adam, batch {batch_size}, "
                   "on MNIST", rows, references=["torch"] if torch is not None else [],
                   notes=notes, ceiling="float32 matmul")


def epoch_parts(sizes: Sequence[int] = (784, 100, 10), batch_size: int = 128,
                n_rows: int | None = None, rounds: int = 5, data: Any = None,
                pause: float = 0.05) -> Section:
    """Where the one-thread epoch of :func:`mlp_epoch` spends its time, part by part.

    Cumulative loops over the epoch's minibatches (those of ``fit``'s epoch 0,
    seed 0), timed in the same rounds: drawing and gathering the minibatches;
    then also ``loss_and_grad``; then also an optimizer step that updates
    nothing; then also Adam's update; and ``optlib.train.fit`` itself. Each
    part is the difference of two of them within a round. The products
    alone (:func:`_products_alone`) split ``loss_and_grad`` into its matrix
    products and the work around them.
    """
    import optlib
    from optlib.data import minibatches
    from optlib.nn import MLP
    from optlib.threads import blas_threads

    X, y = _mnist(data, n_rows)
    sizes = list(sizes)

    def loop(with_loss: bool, make_optimizer: Callable[[], Any] | None = None):
        def run() -> None:
            model = MLP(sizes, seed=0) if with_loss else None
            opt = make_optimizer() if make_optimizer is not None else None
            for X_batch, y_batch in minibatches(X, y, batch_size, np.random.default_rng([0, 0])):
                if with_loss:
                    _, grads = model.loss_and_grad(X_batch, y_batch)
                    if opt is not None:
                        opt.step(model.params, grads)
        return run

    variants = {
        "minibatches": loop(False),
        "+ loss_and_grad": loop(True),
        "+ step, update skipped": loop(True, _SkippedUpdate),
        "+ Adam's update": loop(True, lambda: optlib.Adam(lr=1e-3)),
        "fit": lambda: _fit_one_epoch(MLP(sizes, seed=0), optlib.Adam(lr=1e-3), X, y,
                                      batch_size, 1),
        "products": _products_alone(sizes, X, batch_size),
    }
    with blas_threads(1):
        t = time_interleaved(variants, rounds=rounds, pause=pause)

    def minus(a: str, *others: str) -> list[float]:       # per round
        return [r - sum(o) for r, *o in zip(t[a], *(t[b] for b in others))]

    parts = {
        "draw and gather the minibatches": t["minibatches"],
        "matrix products": t["products"],
        "around the products (bias, activation, loss, checks)":
            minus("+ loss_and_grad", "minibatches", "products"),
        "optimizer step without its update (checks, bookkeeping)":
            minus("+ step, update skipped", "+ loss_and_grad"),
        "Adam's update (numpy arithmetic)": minus("+ Adam's update", "+ step, update skipped"),
        "fit's own work (setup, schedule, history)": minus("fit", "+ Adam's update"),
        "fit, one epoch": t["fit"],
    }
    rows = [Row(label, "1", seconds) for label, seconds in parts.items()]
    notes = [f"{len(X):,} examples in batches of {batch_size}, one BLAS thread. The first part "
             "is a loop that only draws and gathers the minibatches; the products are timed "
             "alone, on consecutive rows; every other part is the difference, within a round, "
             "of two loops over the same minibatches, one doing a little more (also "
             "loss_and_grad; also a step whose update does nothing; also Adam's update; fit "
             "itself). The parts add up to the epoch up to the noise of the differences, and "
             "'around the products' also holds whatever the products cost more inside the "
             "epoch than alone."]
    return Section(f"Epoch parts: one epoch of MLP({sizes}) with Adam, batch {batch_size}, "
                   "at one thread", rows, references=["fit, one epoch"], notes=notes)


def lr_sweep(sizes: Sequence[int] = (784, 100, 10), batch_size: int = 128,
             n_rows: int | None = None, n_runs: int = 8, workers: int | None = None,
             rounds: int = 5, data: Any = None, pause: float = 0.05) -> Section:
    """A learning-rate sweep with :mod:`optlib.sweep`: ``n_runs`` one-epoch trainings.

    Each run trains ``MLP(sizes)`` (seed 0) with Adam at one of ``n_runs``
    learning rates, log-spaced from 1e-4 to 1e-2, for one epoch with
    :func:`optlib.train.fit` on one BLAS thread. Rows: the runs one after
    another in this process (``optlib.sweep.run(..., workers=1)``) and on
    ``workers`` processes (default: two, or one core if that is all there is;
    the row is left out then). The pool is started within every timed call,
    as a user's sweep starts it.
    """
    import optlib
    import optlib.sweep
    from optlib.nn import MLP
    from optlib.threads import available_cores

    X, y = _mnist(data, n_rows)
    sizes = list(sizes)
    workers = workers or min(2, available_cores())
    lrs = [float(lr) for lr in np.geomspace(1e-4, 1e-2, n_runs)]

    def one_run(lr: float):
        return optlib.fit(MLP(sizes, seed=0), optlib.Adam(lr=lr), X, y, epochs=1,
                          batch_size=batch_size, seed=0, progress=False,
                          evaluate_train=False, threads=1)

    results: dict[str, list] = {}

    def sweep(label: str, n: int):
        def call():
            results[label] = optlib.sweep.run(one_run, lrs, workers=n)
        return call

    parallel = f"optlib.sweep, {workers} workers"
    variants = {"one after another": sweep("one after another", 1)}
    if workers > 1:
        variants[parallel] = sweep(parallel, workers)
    times = time_interleaved(variants, rounds=rounds, pause=pause)
    flops = n_runs * _mlp_flops(sizes, len(X))
    rows = [Row("one after another", "1", times["one after another"], flops, "GFLOP/s")]
    roles = {}
    if workers > 1:
        rows.append(Row(parallel, f"{workers}x1", times[parallel], flops, "GFLOP/s"))
        roles["optlib.sweep"] = parallel
        same = all(np.array_equal(a.loss, b.loss) and np.array_equal(a.lr, b.lr)
                   for a, b in zip(results["one after another"], results[parallel]))
        check = ("the same losses, bit for bit, as one after another" if same
                 else "DIFFERENT losses from one after another")
    final = ", ".join(f"{lr:.1e}: {h.loss[-1]:.3f}" for lr, h in
                      zip(lrs, results["one after another"]))
    notes = [f"{n_runs} runs of one epoch ({len(X):,} examples, batch {batch_size}), Adam with "
             f"lr log-spaced from 1e-4 to 1e-2, fit(threads=1); GFLOP/s counts the matrix "
             "products of all runs.",
             f"final minibatch loss per lr: {final}."]
    if workers > 1:
        notes.insert(1, f"{parallel}: a process pool of {workers} forked workers, each on one "
                        f"BLAS thread, started inside every timed call; {check}.")
    return Section(f"Sweep: {n_runs} one-epoch runs of MLP({sizes}) with Adam at "
                   f"{n_runs} learning rates", rows, references=["one after another"],
                   notes=notes, roles=roles)


def blas_thread_sweep(sizes: Sequence[int] = (784, 100, 10), batch_size: int = 128,
                      n_rows: int | None = None, thread_counts: Sequence[int] | None = None,
                      rounds: int = 3, data: Any = None, pause: float = 0.05) -> Section:
    """One epoch of ``fit`` with different numbers of BLAS threads: why the policy picks its count.

    Parameters
    ----------
    thread_counts : sequence of int, optional
        Default: the policy's count (:func:`optlib.threads.threads_for_model`)
        and every available core, if that differs.
    """
    import optlib
    from optlib.nn import MLP
    from optlib.threads import available_cores, threads_for_model

    X, y = _mnist(data, n_rows)
    sizes = list(sizes)
    policy = threads_for_model(MLP(sizes, seed=0), batch_size)
    counts = sorted(set(thread_counts or (policy, available_cores())))
    label = {n: f"{n} BLAS thread{'s' if n > 1 else ''}" + (" (policy)" if n == policy else "")
             for n in counts}
    variants = {label[n]: (lambda n=n: _fit_one_epoch(MLP(sizes, seed=0), optlib.Adam(lr=1e-3),
                                                      X, y, batch_size, n))
                for n in counts}
    times = time_interleaved(variants, rounds=rounds, pause=pause)
    flops = _mlp_flops(sizes, len(X))
    rows = [Row(label[n], str(n), times[label[n]], flops, "GFLOP/s") for n in counts]
    ref = [label[policy]] if policy in counts else []
    return Section(f"Training threads: one epoch of MLP({sizes}), batch {batch_size}, "
                   f"{len(X):,} examples, optlib with fixed BLAS threads", rows, references=ref,
                   notes=["optlib.threads.threads_for_model picks the policy's count; "
                          "fit(threads=...) overrides it."])


# ----------------------------------------------------------------------------
# batched trajectories
# ----------------------------------------------------------------------------

def trajectories(n_points: int = 10_000, steps: int = 200, loop_sample: int = 100,
                 rounds: int = 5, lr: float = 1e-2, torch_variants: bool | None = None,
                 pause: float = 0.02) -> Section:
    """Adam from ``n_points`` starting points on Rosenbrock's function, ``steps`` steps each.

    Rows: optlib (:func:`optlib.surfaces.trajectory`, all points in one
    ``(n_points, 2)`` array); a Python loop calling ``trajectory`` once per
    point, timed on ``loop_sample`` points and scaled to ``n_points``; and
    PyTorch with one batched ``(n_points, 2)`` tensor, autograd for the
    gradient and ``torch.optim.Adam`` (one thread, like numpy here). Every
    variant records the whole path, float64.
    """
    import optlib
    from optlib.surfaces import rosenbrock, trajectory

    torch = _torch() if torch_variants in (None, True) else None
    surface = rosenbrock()
    rng = np.random.default_rng(0)
    x0 = np.column_stack([rng.uniform(-2, 2, n_points), rng.uniform(-1, 3, n_points)])
    sample = x0[:loop_sample]

    def batched():
        return trajectory(surface, optlib.Adam(lr=lr, check_finite=False), x0, steps)

    def loop():
        return [trajectory(surface, optlib.Adam(lr=lr, check_finite=False), point, steps)
                for point in sample]

    variants: dict[str, Callable[[], Any]] = {"optlib batched": batched,
                                              "loop over points": loop}
    if torch is not None:
        def torch_batched():
            x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            opt = torch.optim.Adam([x], lr=lr)
            path = torch.empty((steps + 1, n_points, 2), dtype=torch.float64)
            path[0] = x.detach()
            for k in range(1, steps + 1):
                opt.zero_grad(set_to_none=True)
                u, v = x[:, 0], x[:, 1]
                f = ((1.0 - u) ** 2 + 100.0 * (v - u**2) ** 2).sum()
                f.backward()
                opt.step()
                path[k] = x.detach()
            return path
        variants["torch batched"] = torch_batched
        with _TorchThreads(torch, 1):
            times = time_interleaved(variants, rounds=rounds, pause=pause)
    else:
        times = time_interleaved(variants, rounds=rounds, pause=pause)
    # sanity: the batched and the per-point paths agree
    batched_path = batched()
    loop_paths = loop()
    agree = max(float(np.max(np.abs(batched_path[:, i] - p))) for i, p in enumerate(loop_paths))
    updates = float(n_points * steps)
    rows = [Row("optlib batched", "1", times["optlib batched"]),
            Row("loop over points", "1", times["loop over points"],
                scale=n_points / len(sample))]
    if torch is not None:
        rows.append(Row("torch batched", "1", times["torch batched"]))
    for row in rows:
        row.work, row.unit = updates * 1e3, "M updates/s"   # rate = work/time/1e9, in millions
    notes = [f"{n_points:,} points x {steps} Adam steps (lr {lr:g}) on Rosenbrock, float64, "
             "whole paths kept.",
             f"loop over points: trajectory() called once per point on a sample of {len(sample)} "
             f"points, time scaled by {n_points / len(sample):g}; its paths equal the batched ones "
             f"(max difference {agree:.1e}).",
             "rate: millions of point-updates per second."]
    if torch is not None:
        notes.append("torch batched: one (n, 2) tensor, autograd gradient, torch.optim.Adam, "
                     "torch.set_num_threads(1), in this process.")
    refs = ["loop over points"] + (["torch batched"] if torch is not None else [])
    return Section(f"Trajectories: {n_points:,} starting points x {steps} steps of Adam "
                   "on Rosenbrock", rows, references=refs, notes=notes)


def model_step(sizes: Sequence[int] = (784, 100, 10), steps: int = 200, rounds: int = 7,
               fused: bool | None = None, torch_variants: bool | None = None,
               pause: float = 0.02) -> Section:
    """``steps`` Adam steps on the parameters of a small ``MLP(sizes)``: one buffer or many.

    A small model is where the cost of a numpy call, not the arithmetic,
    is the time. :class:`optlib.nn.MLP` keeps its parameters, and
    ``loss_and_grad`` its gradients, as views of one flat buffer each, so the
    optimizer updates all of them as one array (see
    :class:`optlib.optimizers.Optimizer`). Rows: that layout ("optlib"); the
    same values as separate arrays ("optlib apart", the reference: updated
    leaf by leaf); the fused kernel on the buffer ("optlib fused");
    ``torch.optim.Adam`` on the same tensors, default (a loop over
    parameters) and ``foreach``. Every row runs on one thread.
    The gradient is the same every step (one minibatch of random data).
    """
    import optlib
    from optlib.nn import MLP
    from optlib.threads import blas_threads

    numba = _numba() if fused in (None, True) else None
    torch = _torch() if torch_variants in (None, True) else None
    model = MLP(list(sizes), seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], 128)
    _, grads = model.loss_and_grad(X, y)           # views of one buffer, like the params
    n_params = model.n_params

    def run(opt, params, g):
        def call():
            for _ in range(steps):
                opt.step(params, g)
        return call

    tiled = MLP(list(sizes), seed=0).params
    apart = {k: v.copy() for k, v in model.params.items()}
    apart_grads = {k: v.copy() for k, v in grads.items()}
    variants: dict[str, Callable[[], Any]] = {
        "optlib": run(optlib.Adam(lr=1e-3), tiled, grads),
        "optlib apart": run(optlib.Adam(lr=1e-3), apart, apart_grads),
    }
    if numba is not None:
        variants["optlib fused"] = run(optlib.Adam(lr=1e-3, fused=True),
                                       MLP(list(sizes), seed=0).params, grads)
    if torch is not None:
        t_grads = [torch.from_numpy(g.copy()) for g in grads.values()]
        for kind, options in (("torch", {}), ("torch foreach", {"foreach": True})):
            tensors = [torch.from_numpy(v.copy()).requires_grad_() for v in model.params.values()]
            for t, g in zip(tensors, t_grads):
                t.grad = g
            variants[kind] = (lambda opt: lambda: [opt.step() for _ in range(steps)])(
                torch.optim.Adam(tensors, lr=1e-3, **options))
    with _library_threads(numba, torch, 1), blas_threads(1):
        times = time_interleaved(variants, rounds=rounds, pause=pause)
    rows = [Row(label, "1", times[label], n_params * steps * 1e3, "M params/s")
            for label in variants]
    leaves = ", ".join(f"{k} {v.shape}" for k, v in model.params.items())
    notes = [f"MLP({list(sizes)}): {n_params:,} float32 parameters in {len(model.params)} "
             f"arrays ({leaves}); {steps} steps per call.",
             "optlib and optlib fused: the parameters and gradients in one buffer each, as "
             "MLP keeps them; optlib apart: the same values in separate arrays.",
             "rate: millions of parameters updated per second. Every row ran on one thread."]
    return Section(f"Small model: {steps} Adam steps on MLP({list(sizes)})", rows,
                   references=["optlib apart"], notes=notes)


# ----------------------------------------------------------------------------
# everything, with the targets
# ----------------------------------------------------------------------------

#: The goals of the performance work, as ratios of times in the same rounds.
TARGETS = [
    Target("Sweep", "optlib.sweep", "one after another", 0.6,
           "an 8-run lr sweep with optlib.sweep on two cores at most 0.6x the sequential time"),
    Target("Training, one thread", "optlib", "float32 matmul", 2.0,
           "the MLP epoch at one thread at least 50% of the float32 matmul ceiling",
           percent_of_ceiling=True),
    Target("Training, every core", "optlib", "torch", 1.0,
           "the MLP epoch on every core faster than PyTorch at its default thread count"),
    Target("Adam step", "optlib fused", "torch fused, same threads as optlib fused", 8 / 7,
           "fused Adam (10M float32, with the finiteness check) at most 8/7 of torch fused"),
    Target("Adam step", "optlib", "torch foreach, same threads as optlib", 1.0,
           "the numpy Adam step at most the time of torch foreach"),
]


def run_all(sizes: dict[str, Any] | None = None, only: Sequence[str] | None = None,
            optimizers: Sequence[str] = tuple(OPTIMIZERS), threads: int | None = None,
            fused: bool | None = None, torch_variants: bool | None = None,
            out: Callable[[str], Any] = print) -> list[Section]:
    """Run the benchmarks and print each table as soon as it is measured.

    Parameters
    ----------
    sizes : dict, optional
        Keys of :data:`FULL` (the default); :data:`QUICK` for a short run.
    only : sequence of str, optional
        Which benchmarks, names of :data:`BENCHMARKS` (default: all).
    out : callable
        Receives each block of text (default: ``print``).
    """
    s = dict(FULL, **(sizes or {}))
    only = list(only or BENCHMARKS)
    sections: list[Section] = []

    def emit(section: Section) -> None:
        sections.append(section)
        out(render(section) + "\n")

    out(machine_info() + "\n")
    if "step" in only:
        for name in optimizers:
            emit(optimizer_step(name, s["n_params"], s["n_arrays"], s["rounds"], threads,
                                fused, torch_variants))
    if "small" in only:
        emit(model_step(steps=s["small_steps"], rounds=s["rounds"], fused=fused,
                        torch_variants=torch_variants))
    data = None
    if any(name in only for name in ("mlp", "parts", "threads", "sweep")):
        try:
            data = _mnist(None, s["mlp_rows"])
        except (OSError, ValueError) as err:   # no copy, no network, a corrupt file
            out(f"Training benchmarks skipped: MNIST could not be loaded ({err}). Point "
                "OPTLIB_DATA at a folder holding mnist/, or allow the download.\n")
    if "mlp" in only and data is not None:
        emit(mlp_epoch(rounds=s["mlp_rounds"], matmul_n=s["matmul_n"], fused=fused,
                       torch_variants=torch_variants, data=data, threads=1,
                       title="Training, one thread"))
        cores = available_cores()
        emit(mlp_epoch(rounds=s["mlp_rounds"], matmul_n=s["matmul_n"], fused=False,
                       torch_variants=torch_variants, data=data, threads=cores,
                       torch_threads=_torch_default_threads(), skipped=False, products=False,
                       title="Training, every core"))
    if "parts" in only and data is not None:
        emit(epoch_parts(rounds=s["mlp_rounds"], data=data))
    if "threads" in only and data is not None:
        emit(blas_thread_sweep(rounds=s["sweep_rounds"], data=data))
    if "sweep" in only and data is not None:
        emit(lr_sweep(rounds=s["lr_sweep_rounds"], data=data))
    if "trajectories" in only:
        emit(trajectories(s["n_points"], s["steps"], s["loop_sample"], s["rounds"],
                          torch_variants=torch_variants))
    out(render_targets(check_targets(TARGETS, sections), sections))
    return sections
