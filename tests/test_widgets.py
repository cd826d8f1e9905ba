"""optlib.widgets: build the explorer, drive its controls from code, check the paths."""
import sys
import warnings

import numpy as np
import pytest

import optlib
from optlib import surfaces as S

from conftest import python_stdout
from optlib.surfaces import trajectory

pytest.importorskip("ipywidgets")
matplotlib = pytest.importorskip("matplotlib")
from optlib import plot as P  # noqa: E402
from optlib.widgets import OPTIMIZERS, explorer  # noqa: E402


@pytest.fixture(autouse=True)
def agg():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    yield
    plt.close("all")


def drawn_path(ex):
    """The trajectory line in the explorer's last figure."""
    (line,) = [ln for ln in ex.figure.axes[0].lines if ln.get_gid() == "trajectory"]
    return line.get_xydata()


def test_initial_trajectory_matches_a_direct_call():
    ex = explorer(surface="rosenbrock", optimizer="Adam", lr=0.05, steps=150)
    s = S.rosenbrock()
    expected = trajectory(s, optlib.Adam(lr=0.05, betas=(0.9, 0.999)), s.start, 150)
    np.testing.assert_array_equal(ex.path, expected)
    np.testing.assert_array_equal(drawn_path(ex), expected)
    assert (ex.x0_slider.value, ex.y0_slider.value) == s.start
    assert "f(x_T) = " in ex.status.value


def test_moving_the_learning_rate_slider_recomputes_the_trajectory():
    ex = explorer(surface="rosenbrock", optimizer="Adam", lr=0.05, steps=100)
    before, old_figure = ex.path.copy(), ex.figure
    ex.lr_slider.value = 0.01
    s = S.rosenbrock()
    expected = trajectory(s, optlib.Adam(lr=0.01), s.start, 100)
    np.testing.assert_array_equal(ex.path, expected)
    assert not np.array_equal(ex.path, before)
    assert ex.figure is not old_figure
    np.testing.assert_array_equal(drawn_path(ex), expected)


def test_optimizer_betas_steps_and_start_sliders():
    ex = explorer(surface="booth", optimizer="Adam", lr=0.1, steps=40)
    ex.optimizer_dropdown.value = "Momentum"
    assert not ex.beta1_slider.disabled and ex.beta2_slider.disabled
    ex.beta1_slider.value = 0.5
    ex.steps_slider.value = 30
    ex.x0_slider.value = 2.0
    ex.y0_slider.value = -4.0
    expected = trajectory(S.booth(), optlib.Momentum(lr=0.1, momentum=0.5), [2.0, -4.0], 30)
    np.testing.assert_allclose(ex.path, expected, rtol=0, atol=0)
    ex.optimizer_dropdown.value = "RMSprop"
    assert ex.beta1_slider.disabled and not ex.beta2_slider.disabled
    ex.beta2_slider.value = 0.9
    expected = trajectory(S.booth(), optlib.RMSprop(lr=0.1, alpha=0.9), [2.0, -4.0], 30)
    np.testing.assert_array_equal(ex.path, expected)
    ex.optimizer_dropdown.value = "SGD"
    assert ex.beta1_slider.disabled and ex.beta2_slider.disabled
    assert [ln for ln in ex.figure.axes[0].lines if ln.get_gid() == "end"][-1].get_color() == P.PALETTE["SGD"]


def test_changing_the_surface_resets_the_start_and_redraws_once():
    ex = explorer(surface="rosenbrock", optimizer="SGD", lr=1e-3, steps=50)
    calls = []
    redraw = ex.redraw
    ex.redraw = lambda: calls.append(1) or redraw()
    ex.surface_dropdown.value = "himmelblau"
    assert len(calls) == 1  # not once per start slider
    h = S.himmelblau()
    assert (ex.x0_slider.min, ex.x0_slider.max) == h.xlim
    assert (ex.y0_slider.min, ex.y0_slider.max) == h.ylim
    assert (ex.x0_slider.value, ex.y0_slider.value) == h.start
    np.testing.assert_array_equal(ex.path, trajectory(h, optlib.SGD(lr=1e-3), h.start, 50))
    ex.lr_slider.value = 2e-3
    assert len(calls) == 2


def test_noise_slider_uses_seeded_noisy_gradients():
    ex = explorer(surface="quadratic", optimizer="SGD", lr=0.1, steps=20, seed=3)
    exact = ex.path.copy()
    ex.noise_slider.value = 0.5
    s = S.quadratic()
    expected = trajectory(S.noisy(s, 0.5, seed=3), optlib.SGD(lr=0.1), s.start, 20)
    np.testing.assert_array_equal(ex.path, expected)
    assert not np.allclose(ex.path, exact)
    ex.redraw()
    np.testing.assert_array_equal(ex.path, expected)  # same settings, same noise


def test_divergence_is_shown_not_raised():
    ex = explorer(surface="quadratic", optimizer="SGD", lr=0.1, steps=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex.lr_slider.value = 5.0  # |1 - 2 lr b| = 19 > 1
    assert not np.all(np.isfinite(ex.path[-1]))
    assert "diverged" in ex.status.value


def test_settings_rebuild_the_same_explorer():
    ex = explorer(surface="beale", optimizer="Yogi", lr=0.02, steps=60)
    ex.beta1_slider.value = 0.8
    again = explorer(**ex.settings())
    np.testing.assert_array_equal(again.path, ex.path)
    assert set(OPTIMIZERS) == {"SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop",
                               "Adadelta", "Adam", "AMSGrad", "AdamW", "Yogi"}


def test_explorer_displays_as_its_container():
    ex = explorer(steps=5)
    bundle = ex._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == ex.container.model_id
    assert ex.lr_slider in ex.container.children[1:2]


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(surface="nope"), "surface must be one of"),
    (dict(optimizer="Adamax"), "optimizer must be one of"),
    (dict(lr=0.0), r"lr must be a number in \[1e-05, 10\]"),
    (dict(beta1=1.0), "beta1 must be a number in"),
    (dict(beta2=0.1), "beta2 must be a number in"),
    (dict(noise=-1.0), "noise must be a number in"),
    (dict(steps=0), "steps must be an integer in"),
    (dict(x0=(50.0, 0.0)), "x0 must lie in the surface's window"),
    (dict(surfaces={}), "surfaces must hold at least one Surface"),
])
def test_explorer_rejects_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        explorer(**kwargs)


def test_missing_ipywidgets_names_the_package_and_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r"ipywidgets.*pip install optlib\[widgets\]"):
        explorer()


def test_optlib_widgets_imports_without_ipywidgets():
    code = ("import sys; sys.modules['ipywidgets'] = None; sys.modules['matplotlib'] = None; "
            "import optlib.widgets; print('ok')")
    assert python_stdout(code) == "ok"
