"""optlib.train: fit, History, divergence, checkpoints and resume."""
import os

import numpy as np
import pytest

import optlib
from optlib.data import minibatches
from optlib.nn import MLP, LinearRegression
from optlib.train import History, fit, load_checkpoint, save_checkpoint


def blobs(n=120, d=4, k=3, seed=0):
    """k Gaussian clusters: a classification problem an MLP learns in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = 3 * rng.standard_normal((k, d))
    y = rng.integers(0, k, size=n)
    X = centres[y] + rng.standard_normal((n, d))
    return X.astype(np.float32), y


def small_run(seed=0, epochs=3, **kwargs):
    X, y = blobs()
    model = MLP([4, 8, 3], seed=1)
    optimizer = optlib.Adam(lr=1e-2)
    history = fit(model, optimizer, X, y, epochs=epochs, batch_size=16, seed=seed,
                  progress=False, **kwargs)
    return model, optimizer, history


def assert_same_params(a, b):
    assert list(a.params) == list(b.params)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)


# ----------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------

def test_full_batch_sgd_epoch_is_one_hand_computed_gradient_step():
    # batch_size = n, no shuffle: one epoch is w <- w - lr * grad f(w), with the
    # gradient of f = 1/(2n)||Xw + b - y||^2 written out here by hand.
    X = np.array([[1.0, 2.0], [0.0, 1.0], [2.0, 0.0]])
    y = np.array([1.0, -1.0, 2.0])
    model = LinearRegression(2)
    history = fit(model, optlib.SGD(lr=0.1), X, y, epochs=1, batch_size=3, shuffle=False,
                  progress=False)
    w1 = 0.1 * X.T @ y / 3          # from w = 0, b = 0: the residual is -y
    b1 = 0.1 * y.mean()
    np.testing.assert_allclose(model.params["w"], w1)
    assert model.params["b"] == pytest.approx(b1)
    assert history.loss.tolist() == [pytest.approx((y @ y) / 6)]
    assert history.lr.tolist() == [0.1]
    r = X @ w1 + b1 - y
    assert history.train_loss.tolist() == [pytest.approx(r @ r / 6)]
    assert history.train_acc.size == 0             # regression: no accuracy


def test_history_shapes_and_schedule_values():
    X, y = blobs(n=100)
    Xt, yt = blobs(n=30, seed=1)
    model = MLP([4, 8, 3])
    schedule = lambda k: 0.05 / (k + 1)            # noqa: E731
    history = fit(model, optlib.SGD(lr=schedule), X, y, epochs=2, batch_size=32,
                  X_test=Xt, y_test=yt, progress=False)
    # 100 rows in batches of 32: 4 updates per epoch (32, 32, 32, 4)
    assert history.n_updates == 8 and history.n_epochs == 2
    np.testing.assert_array_equal(history.updates, np.arange(1, 9))
    np.testing.assert_array_equal(history.epochs, [1, 2])
    np.testing.assert_array_equal(history.epoch_updates, [4, 8])
    np.testing.assert_allclose(history.lr, 0.05 / np.arange(1, 9))
    for name in ("train_loss", "train_acc", "test_loss", "test_acc", "epoch_seconds"):
        assert getattr(history, name).shape == (2,), name
    assert history.test_acc[-1] == pytest.approx(model.accuracy(Xt, yt))
    assert history.test_loss[-1] == pytest.approx(model.loss(Xt, yt), rel=1e-6)
    assert history.train_acc[-1] == pytest.approx(model.accuracy(X, y))
    assert history.seconds >= history.epoch_seconds.sum() > 0
    assert not history.diverged and history.diverged_at is None
    assert repr(history).startswith("History(epochs=2, updates=8, loss=")
    assert "test_acc=" in repr(history) and "diverged" not in repr(history)


def test_drop_last_and_no_train_evaluation():
    X, y = blobs(n=100)
    history = fit(MLP([4, 3]), optlib.SGD(lr=0.1), X, y, epochs=1, batch_size=32,
                  drop_last=True, evaluate_train=False, progress=False)
    assert history.n_updates == 3
    assert history.train_loss.size == 0 and history.test_loss.size == 0


def test_training_lowers_the_loss():
    model, _, history = small_run(epochs=10)
    assert history.train_loss[-1] < 0.2 * history.train_loss[0]
    assert history.train_acc[-1] > 0.9 > history.train_acc[0]


def test_same_seed_gives_bit_identical_results_and_another_seed_does_not():
    a, opt_a, ha = small_run(seed=3)
    b, opt_b, hb = small_run(seed=3)
    c, _, hc = small_run(seed=4)
    assert_same_params(a, b)
    np.testing.assert_array_equal(ha.loss, hb.loss)
    np.testing.assert_array_equal(ha.test_loss, hb.test_loss)
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    assert not np.array_equal(ha.loss, hc.loss)


def test_epoch_e_uses_the_minibatches_of_rng_seed_e():
    # The documented contract that makes resuming exact: epoch e shuffles with
    # default_rng([seed, e]) and nothing else, so every epoch has a new order.
    class Recorder(MLP):
        def loss_and_grad(self, X, y, l2=0.0):
            seen.append(X.copy())
            return super().loss_and_grad(X, y, l2)

    seen = []
    X, y = blobs(n=50)                 # the rows of X are all different
    fit(Recorder([4, 3]), optlib.SGD(lr=0.1), X, y, epochs=2, batch_size=20, seed=5,
        progress=False)
    expected = [Xb for e in (0, 1) for Xb, _ in
                minibatches(X, y, 20, np.random.default_rng([5, e]))]
    assert len(seen) == len(expected) == 6
    for got, want in zip(seen, expected):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(seen[0], seen[3])


def test_array_learning_rate_is_recorded_as_nan():
    class HalfStep:                 # a duck-typed optimizer with a per-coordinate lr
        lr = np.array([0.5, 0.5])
        t = 0

        def step(self, params, grads):
            params["w"] -= self.lr * grads["w"]
            self.t += 1

    X, y = np.eye(2), np.array([1.0, 2.0])
    history = fit(LinearRegression(2, bias=False), HalfStep(), X, y, epochs=1, batch_size=2,
                  progress=False)
    assert np.isnan(history.lr).all() and history.n_updates == 1


# ----------------------------------------------------------------------------
# divergence
# ----------------------------------------------------------------------------

def test_huge_learning_rate_diverges_cleanly():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    model = LinearRegression(3)
    history = fit(model, optlib.SGD(lr=50.0), X, y, epochs=100, batch_size=8, progress=False)
    assert history.diverged is True
    assert history.diverged_at == history.n_updates + 1 > 1
    assert np.isfinite(history.loss).all()
    assert history.n_epochs < 100
    # the failing update was not applied: the parameters are the last good ones
    assert all(np.isfinite(p).all() for p in model.params.values())
    assert f"diverged_at={history.diverged_at}" in repr(history)


class NaNAfter:
    """MLP wrapper whose gradient turns NaN at update ``bad`` (1-based)."""

    def __init__(self, bad, nan_loss=False):
        self.inner = MLP([4, 3], dtype=np.float64)
        self.params = self.inner.params
        self.calls, self.bad, self.nan_loss = 0, bad, nan_loss

    def loss_and_grad(self, X, y, l2=0.0):
        self.calls += 1
        loss, grads = self.inner.loss_and_grad(X, y, l2)
        if self.calls == self.bad:
            grads["W1"][0, 0] = np.nan
            if self.nan_loss:
                loss = float("nan")
        return loss, grads

    def evaluate(self, X, y):
        return self.inner.evaluate(X, y)


@pytest.mark.parametrize("check_finite,nan_loss", [(True, False), (False, True)])
def test_nan_gradient_or_loss_stops_training_at_that_update(check_finite, nan_loss):
    X, y = blobs(n=64)
    model = NaNAfter(bad=6, nan_loss=nan_loss)
    opt = optlib.SGD(lr=0.1, check_finite=check_finite)
    history = fit(model, opt, X, y, epochs=3, batch_size=16, progress=False)
    assert history.diverged and history.diverged_at == 6
    assert history.n_updates == 5 and opt.t == 5
    assert history.n_epochs == 1                    # epoch 2 was cut short: not recorded
    assert np.isfinite(model.params["W1"]).all()


# ----------------------------------------------------------------------------
# progress bar
# ----------------------------------------------------------------------------

def test_progress_false_prints_nothing(capfd):
    small_run(epochs=2)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_progress_true_shows_a_bar(capfd):
    pytest.importorskip("tqdm")
    X, y = blobs()
    fit(MLP([4, 3]), optlib.SGD(lr=0.1), X, y, epochs=2, batch_size=16)
    _, err = capfd.readouterr()
    assert "training" in err and "16/16" in err     # 2 epochs x 8 updates


# ----------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------

class Interrupt(Exception):
    pass


def test_interrupted_run_resumed_from_checkpoint_is_bit_identical(tmp_path):
    X, y = blobs(n=100)
    Xt, yt = blobs(n=30, seed=1)
    schedule = optlib.schedules.cosine(lr=0.02, total_steps=35)

    def run(model, optimizer, **kwargs):
        return fit(model, optimizer, X, y, epochs=5, batch_size=16, seed=7,
                   X_test=Xt, y_test=yt, progress=False, **kwargs)

    whole_model, whole_opt = MLP([4, 8, 3], seed=1), optlib.Adam(lr=schedule)
    whole = run(whole_model, whole_opt)

    # interrupted in the middle of epoch 4 (updates 22..28): the checkpoint holds epoch 3
    path = tmp_path / "run.npz"
    model, opt = MLP([4, 8, 3], seed=1), optlib.Adam(lr=schedule)
    original = model.loss_and_grad
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 25:
            raise Interrupt
        return original(*args, **kwargs)

    model.loss_and_grad = flaky
    with pytest.raises(Interrupt):
        run(model, opt, checkpoint=path)
    assert load_checkpoint(path, MLP([4, 8, 3])).epoch == 3

    # a new process: fresh objects, another initialisation; the checkpoint restores it all
    resumed_model, resumed_opt = MLP([4, 8, 3], seed=99), optlib.Adam(lr=schedule)
    resumed = run(resumed_model, resumed_opt, checkpoint=path)

    assert_same_params(resumed_model, whole_model)
    assert resumed_opt.t == whole_opt.t == 35
    for leaf, state in whole_opt.state.items():
        for key, value in state.items():
            np.testing.assert_array_equal(resumed_opt.state[leaf][key], value)
    np.testing.assert_array_equal(resumed.loss, whole.loss)
    np.testing.assert_array_equal(resumed.lr, whole.lr)
    np.testing.assert_array_equal(resumed.test_acc, whole.test_acc)
    np.testing.assert_array_equal(resumed.epoch_updates, whole.epoch_updates)
    assert load_checkpoint(path, MLP([4, 8, 3])).epoch == 5


def test_finished_checkpoint_is_not_trained_further(tmp_path):
    path = tmp_path / "done.npz"
    model, _, first = small_run(epochs=2, checkpoint=path)
    again, opt, second = small_run(epochs=2, checkpoint=path)
    assert opt.t == first.n_updates                  # restored, no new updates
    assert_same_params(model, again)
    np.testing.assert_array_equal(first.loss, second.loss)


def test_checkpoint_round_trip_with_nested_state_and_meta(tmp_path):
    path = tmp_path / "ck"                          # used as named: no .npz added
    model = MLP([3, 4, 2], seed=0)
    opt = optlib.Momentum(lr=0.1)
    X, y = blobs(n=10, d=3, k=2)
    opt.step(model.params, model.loss_and_grad(X, y)[1])
    history = History(loss=np.array([0.5]), lr=np.array([0.1]), seconds=1.25,
                      diverged=True, diverged_at=2)
    meta = {"seed": 3, "name": "run", "third": 0.1 + 0.2, "flag": True, "none": None,
            "nested": {"pair": (1, 2.5), 7: [np.float32(1.5)]}}
    save_checkpoint(path, model, opt, history, epoch=4, meta=meta)
    assert os.listdir(tmp_path) == ["ck"]             # the temporary file is gone

    with np.load(path, allow_pickle=False) as npz:    # a plain npz, no pickle needed
        np.testing.assert_array_equal(npz["model/W1"], model.params["W1"])

    other, other_opt = MLP([3, 4, 2], seed=5), optlib.Momentum(lr=0.1)
    saved = load_checkpoint(path, other, other_opt)
    assert_same_params(other, model)
    assert other_opt.t == 1
    np.testing.assert_array_equal(other_opt.state["W1"]["momentum_buffer"],
                                  opt.state["W1"]["momentum_buffer"])
    assert saved.epoch == 4
    assert saved.meta == meta
    assert type(saved.meta["nested"]["pair"]) is tuple and 7 in saved.meta["nested"]
    assert saved.meta["nested"][7][0].dtype == np.float32
    assert saved.history.diverged and saved.history.diverged_at == 2
    assert saved.history.seconds == 1.25
    np.testing.assert_array_equal(saved.history.loss, [0.5])


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    model = MLP([3, 2])
    save_checkpoint(path, model, epoch=1)
    saved_W1 = model.params["W1"].copy()

    def broken_savez(file, **arrays):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    model.params["W1"] += 1.0
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, epoch=2)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ck.npz"]
    fresh = MLP([3, 2])
    assert load_checkpoint(path, fresh).epoch == 1
    np.testing.assert_array_equal(fresh.params["W1"], saved_W1)


def test_load_checkpoint_errors_name_the_file_and_the_parameter(tmp_path):
    path = tmp_path / "ck.npz"
    model = MLP([3, 4, 2])
    save_checkpoint(path, model, optlib.Adam(), epoch=1)

    other = MLP([3, 5, 2])
    before = other.params["W1"].copy()
    with pytest.raises(ValueError, match=r"ck\.npz.*parameter 'W1' has shape \(3, 4\)"):
        load_checkpoint(path, other)
    np.testing.assert_array_equal(other.params["W1"], before)      # untouched
    with pytest.raises(ValueError, match=r"ck\.npz.*no parameter 'W3'"):
        load_checkpoint(path, MLP([3, 4, 4, 2]))
    linear = tmp_path / "linear.npz"
    save_checkpoint(linear, LinearRegression(3), epoch=0)
    with pytest.raises(ValueError, match=r"linear\.npz.*no parameter 'W1'"):
        load_checkpoint(linear, MLP([3, 2]))
    with pytest.raises(ValueError, match=r"linear\.npz.*holds no optimizer state"):
        load_checkpoint(linear, LinearRegression(3), optlib.SGD())
    with pytest.raises(ValueError, match=r"ck\.npz.*parameter 'W2', which the model lacks"):
        load_checkpoint(path, MLP([3, 4]))
    save_checkpoint(path, model, optlib.Adam(), epoch=1)
    with pytest.raises(ValueError, match=r"ck\.npz.*Adam.*SGD"):
        load_checkpoint(path, model, optlib.SGD())
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(2))
    with pytest.raises(ValueError, match=r"plain\.npz.*not an optlib checkpoint"):
        load_checkpoint(plain, model)
    with pytest.raises(TypeError, match="meta/bad"):
        save_checkpoint(path, model, meta={"bad": object()})


def test_resume_with_other_settings_is_refused(tmp_path):
    path = tmp_path / "ck.npz"
    small_run(epochs=1, checkpoint=path)
    with pytest.raises(ValueError, match="batch_size=16.*batch_size=32"):
        X, y = blobs()
        fit(MLP([4, 8, 3], seed=1), optlib.Adam(lr=1e-2), X, y, epochs=2, batch_size=32,
            progress=False, checkpoint=path)
    with pytest.raises(ValueError, match="seed=0.*seed=1"):
        small_run(seed=1, epochs=2, checkpoint=path)


# ----------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), ValueError, "batch_size"),
    (dict(seed=-3), ValueError, "seed"),
    (dict(l2=-1.0), ValueError, "l2"),
    (dict(checkpoint_every=0), ValueError, "checkpoint_every"),
    (dict(y=np.zeros(5, dtype=int)), ValueError, "X has 120 rows but y has 5"),
    (dict(X_test=np.zeros((2, 4))), ValueError, "X_test and y_test"),
    (dict(X_test=np.zeros((2, 4)), y_test=np.zeros(3, dtype=int)), ValueError, "X_test has 2 rows"),
    (dict(batch_size=500, drop_last=True), ValueError, "drop_last"),
    (dict(model=object()), TypeError, "model must have"),
    (dict(optimizer=object()), TypeError, "optimizer must have"),
])
def test_fit_rejects_bad_arguments(kwargs, error, match):
    X, y = blobs()
    args = dict(model=MLP([4, 3]), optimizer=optlib.SGD(lr=0.1), X=X, y=y, epochs=1,
                batch_size=16, progress=False)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fit(**args)


# ----------------------------------------------------------------------------
# MNIST
# ----------------------------------------------------------------------------

@pytest.mark.slow
def test_mlp_reaches_97_percent_on_mnist_in_three_epochs(shared_data_dir):
    from optlib.data import load_mnist

    (X, y), (X_test, y_test) = load_mnist(data_dir=shared_data_dir)
    # Standardise with the training set's pixel mean and std (0.1307, 0.3081):
    # on raw [0, 1] pixels this setting reaches ~96.3% after 3 epochs, in
    # PyTorch as here; standardised inputs bring it past 97%.
    mean, std = X.mean(), X.std()
    X, X_test = (X - mean) / std, (X_test - mean) / std
    model = MLP([784, 100, 10], seed=0)
    history = fit(model, optlib.Adam(lr=1e-3), X, y, epochs=3, batch_size=128, seed=0,
                  X_test=X_test, y_test=y_test, progress=False)
    assert X.dtype == np.float32 and history.n_updates == 3 * 469
    assert not history.diverged
    assert history.test_acc[-1] >= 0.97, history
    assert history.train_loss[-1] < history.train_loss[0]


def _blas_threads_now():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    infos = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    if not infos:
        pytest.skip("no BLAS library reports its thread count")
    return infos[0]["num_threads"]


@pytest.mark.parametrize("threads, expected", [("auto", 1), (2, 2), (1, 1)])
def test_fit_sets_blas_threads_while_training_and_restores_them(monkeypatch, threads, expected):
    before = _blas_threads_now()
    X, y = blobs()
    model = MLP([4, 8, 3], seed=0, dtype=np.float64)
    seen = []
    original = model.loss_and_grad

    def spy(*args, **kwargs):
        seen.append(_blas_threads_now())
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "loss_and_grad", spy)
    fit(model, optlib.SGD(lr=0.1), X, y, epochs=1, batch_size=32, progress=False, threads=threads)
    assert seen and set(seen) == {expected}      # a tiny model gets one thread under "auto"
    assert _blas_threads_now() == before


def test_fit_rejects_a_bad_thread_count():
    X, y = blobs()
    with pytest.raises(ValueError, match="threads"):
        fit(MLP([4, 3], dtype=np.float64), optlib.SGD(lr=0.1), X, y, epochs=1, batch_size=32,
            progress=False, threads="many")
