"""optlib.plot on the Agg backend: what each function draws, and the lazy import."""
import io
import sys

import numpy as np
import pytest

import optlib
from optlib import surfaces as S
from optlib.surfaces import trajectory

from conftest import python_stdout

matplotlib = pytest.importorskip("matplotlib")
from optlib import plot as P  # noqa: E402


@pytest.fixture(autouse=True)
def agg():
    """Headless drawing, and no figure leaks from one test into the next."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    yield plt
    plt.close("all")


def lines_with(ax, gid):
    return [line for line in ax.lines if line.get_gid() == gid]


def legend_texts(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


# ----------------------------------------------------------------------------
# colours
# ----------------------------------------------------------------------------

def test_color_for_follows_the_optimizer_name():
    assert P.color_for("Adam") == P.PALETTE["Adam"]
    assert P.color_for("adam") == P.PALETTE["Adam"]
    assert P.color_for("Adam lr=0.1") == P.PALETTE["Adam"]
    assert P.color_for("AdamW") == P.PALETTE["AdamW"] != P.PALETTE["Adam"]
    assert P.color_for("Adamax") not in P.PALETTE.values()  # not Adam's colour
    assert len(set(P.PALETTE.values())) == len(P.PALETTE)
    assert P.color_for("my method") == P.color_for("my method")  # stable


# ----------------------------------------------------------------------------
# contour
# ----------------------------------------------------------------------------

def test_contour_draws_paths_markers_and_minimizers():
    s = S.himmelblau()
    one = trajectory(s, optlib.SGD(lr=0.01), [0.0, 0.0], steps=30)
    three = trajectory(s, optlib.Adam(lr=0.1), [[0.0, 0.0], [-1.0, 1.0], [1.0, -3.0]], 30)
    ax = P.contour(s, {"SGD": one, "Adam": three})
    paths = lines_with(ax, "trajectory")
    assert len(paths) == 1 + 3
    np.testing.assert_array_equal(paths[0].get_xydata(), one)
    np.testing.assert_array_equal(paths[3].get_xydata(), three[:, 2])
    assert paths[0].get_color() == P.PALETTE["SGD"] and paths[1].get_color() == P.PALETTE["Adam"]
    starts, ends = lines_with(ax, "start"), lines_with(ax, "end")
    assert len(starts) == len(ends) == 2
    np.testing.assert_array_equal(starts[1].get_xydata(), three[0])
    np.testing.assert_array_equal(ends[1].get_xydata(), three[-1])
    (stars,) = lines_with(ax, "minimizer")
    np.testing.assert_array_equal(stars.get_xydata(), s.minimizers)
    assert legend_texts(ax) == ["minimizer", "SGD", "Adam", "start", "end"]
    assert ax.get_xlabel() == "$x$" and ax.get_ylabel() == "$y$"
    assert ax.get_xlim() == s.xlim and ax.get_ylim() == s.ylim
    assert ax.get_title() == s.name
    assert len(ax.collections) >= 1  # the contour set


def test_contour_with_given_axes_list_and_labels(agg):
    fig, axes = agg.subplots(1, 2)
    s = S.rosenbrock()
    a = trajectory(s, optlib.Adam(lr=0.05), s.start, 20)
    b = trajectory(s, optlib.Adam(lr=0.01), s.start, 20)
    out = P.contour(s, [a, b], labels=["Adam lr=0.05", "Adam lr=0.01"], ax=axes[1])
    assert out is axes[1] and not axes[0].lines
    paths = lines_with(out, "trajectory")
    # same optimizer, same colour; the repeat is told apart by its dashes
    assert paths[0].get_color() == paths[1].get_color() == P.PALETTE["Adam"]
    assert paths[0].get_linestyle() != paths[1].get_linestyle()
    assert P.contour(s, ax=axes[0], title="bare") is axes[0]
    assert not lines_with(axes[0], "trajectory") and axes[0].get_legend() is None


def test_end_marker_is_the_last_finite_iterate():
    s = S.quadratic()
    path = np.full((6, 2, 2), np.nan)
    path[:3, 0] = [[1.0, 1.0], [0.5, 0.5], [0.2, 0.1]]  # diverged after step 2
    path[0, 1] = [2.0, 2.0]                             # diverged after step 0
    ax = P.contour(s, path, labels=["SGD"])
    (end,) = lines_with(ax, "end")
    np.testing.assert_array_equal(end.get_xydata(), [[0.2, 0.1], [2.0, 2.0]])


def test_contour_levels_log_spaced_or_linear():
    ax = P.contour(S.rosenbrock(), levels=12)
    cs = ax.collections[0]
    X, Y, Z = S.rosenbrock().grid(201)
    ratios = np.diff(np.log(cs.levels - Z.min()))
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)  # geometric above min
    ax = P.contour(S.saddle(), levels=12)  # f has no minimum: linear levels by default
    steps = np.diff(ax.collections[0].levels)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    assert not lines_with(ax, "minimizer")
    ax = P.contour(S.booth(), levels=[1.0, 10.0, 100.0])
    np.testing.assert_array_equal(ax.collections[0].levels, [1.0, 10.0, 100.0])


def test_every_formula_renders_in_mathtext():
    from matplotlib import mathtext
    for factory in S.SURFACES.values():
        mathtext.math_to_image(f"${factory().formula}$", io.BytesIO(), format="png")


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(trajectories=[np.zeros((3, 2))] * 2, labels=["one"]),
     "labels has 1 entries but there are 2 trajectories"),
    (dict(trajectories={"Adam": np.zeros((3, 3))}), r"trajectories\['Adam'\] must have shape"),
    (dict(trajectories=[np.zeros(4)]), r"trajectories\[0\] must have shape"),
    (dict(trajectories={"Adam": np.zeros((3, 2))}, labels=["x"]), "labels must be None"),
])
def test_contour_rejects_bad_trajectories(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        P.contour(S.booth(), **kwargs)


# ----------------------------------------------------------------------------
# loss curves
# ----------------------------------------------------------------------------

def test_loss_curves_of_plain_arrays():
    runs = {"SGD": np.array([4.0, 2.0, 1.0]), "Adam": [3.0, 1.0, 0.5, 0.25]}
    ax = P.loss_curves(runs)
    assert len(ax.lines) == 2
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [3.0, 1.0, 0.5, 0.25])
    assert [line.get_color() for line in ax.lines] == [P.PALETTE["SGD"], P.PALETTE["Adam"]]
    assert ax.get_yscale() == "log" and "update" in ax.get_xlabel()
    assert legend_texts(ax) == ["SGD", "Adam"]
    assert P.loss_curves(runs, logy=False).get_yscale() == "linear"
    single = P.loss_curves(np.array([1.0, 0.5]), x="epoch")
    np.testing.assert_array_equal(single.lines[0].get_xdata(), [1, 2])
    assert single.get_legend() is None


def test_smoothing_is_a_trailing_moving_average():
    ax = P.loss_curves({"SGD": np.array([1.0, 2.0, 3.0, 4.0, 10.0])}, smooth=2)
    assert len(ax.lines) == 2  # faint raw curve and the average
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [1.0, 2.0, 3.0, 4.0, 10.0])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [1.0, 1.5, 2.5, 3.5, 7.0])
    assert ax.lines[0].get_alpha() < 1
    assert legend_texts(ax) == ["SGD"]


def history(**kwargs):
    train = pytest.importorskip("optlib.train")
    return train.History(**kwargs)


def test_loss_curves_of_histories_per_update_epoch_and_time():
    h = history(loss=np.linspace(2.0, 0.2, 10), train_loss=np.array([0.9, 0.4]),
                test_loss=np.array([1.0, 0.6]), epoch_updates=np.array([4, 8]),
                epoch_seconds=np.array([1.0, 3.0]))
    ax = P.loss_curves({"Adam": h}, x="epoch")
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.9, 0.4])
    assert ax.get_ylabel() == "train loss" and ax.get_xlabel() == "epoch"
    ax = P.loss_curves({"Adam": h}, x="time", metric="test_loss")
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1.0, 4.0])  # cumulative seconds
    ax = P.loss_curves({"Adam": h}, x="update", metric="test_loss")
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [4, 8])  # end of each epoch
    ax = P.loss_curves({"Adam": h})
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(1, 11))
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), h.loss)
    # per-update losses on the epoch and time axes: linear within each epoch
    ax = P.loss_curves({"Adam": h}, x="epoch", metric="loss")
    np.testing.assert_allclose(ax.lines[0].get_xdata()[[1, 3, 5, 9]], [0.5, 1.0, 1.5, 2.5])
    ax = P.loss_curves({"Adam": h}, x="time", metric="loss")
    np.testing.assert_allclose(ax.lines[0].get_xdata()[[1, 3, 5, 9]], [0.5, 1.0, 2.5, 5.5])


@pytest.mark.parametrize("runs, kwargs, pattern", [
    ({"a": [1.0]}, dict(x="step"), "x must be one of"),
    ({"a": [1.0]}, dict(smooth=0), "smooth must be None or a window length"),
    ({"a": [1.0]}, dict(smooth=2.5), "smooth must be None or a window length"),
    ({"a": np.ones((2, 2))}, {}, "run 'a' must be a 1-D array"),
    ({"a": [1.0]}, dict(x="time"), "run 'a' is a plain array of losses without timing"),
    ({"a": [1.0]}, dict(metric="test_loss"), "run 'a' is a plain array"),
])
def test_loss_curves_rejects_bad_input(runs, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        P.loss_curves(runs, **kwargs)


def test_loss_curves_rejects_missing_history_data():
    h = history(loss=np.ones(5))
    with pytest.raises(ValueError, match="run 'b' has no attribute 'test_accuracy'"):
        P.loss_curves({"b": h}, metric="test_accuracy")
    with pytest.raises(ValueError, match="run 'b' recorded no test_loss"):
        P.loss_curves({"b": h}, metric="test_loss")
    with pytest.raises(ValueError, match="run 'b' completed no epoch"):
        P.loss_curves({"b": h}, x="time")


# ----------------------------------------------------------------------------
# schedules
# ----------------------------------------------------------------------------

def test_schedule_plot_draws_each_schedule():
    schedules = {
        "step": lambda k: 0.1 * 0.5 ** (k // 10),
        "constant": lambda k: 0.05,  # a scalar is broadcast over k
        "cosine": optlib.schedules.cosine(lr=0.1, total_steps=30),
    }
    ax = P.schedule_plot(schedules, steps=30)
    assert len(ax.lines) == 3
    k = np.arange(30)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), k)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 0.1 * 0.5 ** (k // 10))
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), np.full(30, 0.05))
    np.testing.assert_allclose(ax.lines[2].get_ydata(), 0.05 * (1 + np.cos(np.pi * k / 30)))
    assert legend_texts(ax) == ["step", "constant", "cosine"]
    assert "learning rate" in ax.get_ylabel() and "update" in ax.get_xlabel()
    assert P.schedule_plot(schedules["step"], 5, logy=True).get_yscale() == "log"


@pytest.mark.parametrize("schedules, steps, exc, pattern", [
    ({"a": lambda k: k * 0.1}, 0, ValueError, "steps must be an integer >= 1"),
    ({"a": lambda k: np.ones(3)}, 5, ValueError, "schedule 'a' returned shape"),
    ({"a": 0.1}, 5, TypeError, "schedule 'a' must be a callable"),
])
def test_schedule_plot_rejects_bad_input(schedules, steps, exc, pattern):
    with pytest.raises(exc, match=pattern):
        P.schedule_plot(schedules, steps)


# ----------------------------------------------------------------------------
# animations
# ----------------------------------------------------------------------------

def test_animation_frames_and_html(agg):
    from matplotlib.animation import FuncAnimation
    s = S.rosenbrock()
    sgd = trajectory(s, optlib.SGD(lr=1e-3), [[-1.2, 1.0], [0.5, 2.0]], steps=100)
    adam = trajectory(s, optlib.Adam(lr=0.05), [-1.2, 1.0], steps=60)
    anim = P.animate(s, {"SGD": sgd, "Adam": adam}, max_frames=8)
    assert isinstance(anim, FuncAnimation)
    assert anim.frame_steps[0] == 0 and anim.frame_steps[-1] == 100
    assert len(anim.frame_steps) == 8 and np.all(np.diff(anim.frame_steps) > 0)
    fig = anim._fig
    html = P.animation_html(anim)
    text = html._repr_html_()
    assert text.count("data:image/jpeg;base64") == 8
    assert "frames[7]" in text and "frames[8]" not in text
    assert len(text) < 8 * 60_000  # small enough to embed in the book
    assert not agg.fignum_exists(fig.number)  # closed: no extra static image
    # after the last frame, every path is drawn in full (shorter runs stop early)
    ax = fig.axes[0]
    paths = lines_with(ax, "trajectory")
    np.testing.assert_array_equal(paths[1].get_xydata(), sgd[:, 1])
    np.testing.assert_array_equal(paths[2].get_xydata(), adam)
    heads = lines_with(ax, "head")
    np.testing.assert_array_equal(heads[0].get_xydata(), sgd[-1])
    assert ax.get_title().endswith("step 100")


def test_animate_html_shortcut_and_png_frames(agg):
    s = S.booth()
    path = trajectory(s, optlib.SGD(lr=0.02), s.start, steps=5)
    html = P.animate(s, path, labels=["SGD"], html=True)
    assert html._repr_html_().count("data:image/jpeg;base64") == 6  # 6 points, 6 frames
    assert agg.get_fignums() == []
    anim = P.animate(s, [path], max_frames=3)
    text = P.animation_html(anim, frame_format="png")._repr_html_()
    assert text.count("data:image/png;base64") == 3


@pytest.mark.parametrize("call, pattern", [
    (lambda: P.animate(S.booth(), np.zeros((3, 2)), max_frames=0), "max_frames must be"),
    (lambda: P.animate(S.booth(), {}), "trajectories is empty"),
    (lambda: P.animation_html(None, frame_format="gif"), "frame_format must be"),
    (lambda: P.animation_html(None, quality=0), "quality must be"),
])
def test_animation_rejects_bad_arguments(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ----------------------------------------------------------------------------
# without matplotlib
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: P.contour(S.booth()),
    lambda: P.loss_curves({"a": [1.0, 0.5]}),
    lambda: P.schedule_plot({"a": lambda k: 0.1 + 0 * k}, 3),
    lambda: P.animate(S.booth(), np.zeros((3, 2))),
])
def test_missing_matplotlib_names_the_package_and_the_extra(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"matplotlib.*pip install optlib\[plot\]"):
        call()


def test_optlib_imports_without_matplotlib():
    code = ("import sys; sys.modules['matplotlib'] = None; "
            "import optlib, optlib.surfaces, optlib.plot; print('ok')")
    assert python_stdout(code) == "ok"


# ----------------------------------------------------------------------------
# the book's style: figures fit the text column and their text stays legible
# ----------------------------------------------------------------------------

#: The text column of the built book, in CSS pixels (sphinx-book-theme).
COLUMN_PX = 672
#: The smallest text a reader should have to read, in displayed pixels.
MIN_TEXT_PX = 9.0


@pytest.fixture
def book_style():
    with matplotlib.rc_context():
        P.use_book_style()
        yield


def _png_width(fig, tight: bool) -> int:
    """Width in pixels of the PNG that a notebook shows (bbox 'tight', as inline does)."""
    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight" if tight else None)
    return Image.open(io.BytesIO(buf.getvalue())).size[0]


def displayed_text(fig, tight: bool = True) -> tuple[float, int]:
    """(smallest text height in displayed pixels, PNG width) of ``fig`` in the column.

    A figure wider than the column is scaled down to fit it, text and all; a
    point is ``dpi / 72`` pixels.
    """
    from matplotlib.text import Text
    fig.canvas.draw()
    width = _png_width(fig, tight)
    scale = min(1.0, COLUMN_PX / width)
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    assert sizes, "the figure has no text to measure"
    return min(sizes) * fig.dpi / 72 * scale, width


def _runs(s):
    return {"SGD": trajectory(s, optlib.SGD(lr=1e-3), [[-1.2, 1.0], [0.5, 2.0]], steps=60),
            "Momentum": trajectory(s, optlib.Momentum(lr=5e-4), [-1.2, 1.0], steps=60),
            "Adam": trajectory(s, optlib.Adam(lr=0.05), [-1.2, 1.0], steps=60)}


def _history_like(n):
    return np.exp(-np.linspace(0, 3, n)) + 0.01


def _every_plot_function():
    """(name, figure) for each optlib.plot function, drawn as a chapter draws it."""
    s = S.rosenbrock()
    yield "contour", P.contour(s, _runs(s)).figure
    yield "loss_curves", P.loss_curves({"SGD": _history_like(50), "Adam": _history_like(40)},
                                       smooth=5).figure
    yield "schedule_plot", P.schedule_plot(
        {"cosine": optlib.schedules.cosine(lr=0.1, total_steps=100),
         "step": optlib.schedules.step_decay(lr=0.1, step_size=30, gamma=0.5)}, 100).figure
    fig, axes = P.subplots(1, 3)
    for ax, surface in zip(axes, (S.rosenbrock(), S.beale(), S.saddle())):
        P.contour(surface, _runs(surface) if surface.name != "saddle" else None, ax=ax)
    yield "three contour panels from subplots", fig
    fig, axes = P.subplots(2, 2)
    P.loss_curves({"SGD": _history_like(30)}, ax=axes[0, 0])
    yield "2 x 2 panels from subplots", fig


@pytest.mark.parametrize("index", range(5))
def test_every_plot_function_is_legible_in_the_text_column(book_style, index):
    name, fig = list(_every_plot_function())[index]
    text_px, width = displayed_text(fig)
    assert text_px >= MIN_TEXT_PX, f"{name}: smallest text {text_px:.1f} px in the column"
    assert width <= COLUMN_PX * 1.05, f"{name}: {width} px wide, shrunk into {COLUMN_PX}"


def test_animation_frames_are_column_wide_and_legible(book_style):
    s = S.rosenbrock()
    for loss in (False, True):
        anim = P.animate(s, _runs(s), max_frames=3, loss=loss)
        fig = anim._fig
        anim._init_draw()
        text_px, width = displayed_text(fig, tight=False)   # frames are saved untrimmed
        assert 600 <= width <= COLUMN_PX, (loss, width)
        assert text_px >= MIN_TEXT_PX, (loss, text_px)


def test_the_same_figure_without_the_book_style_would_fail_the_check():
    # the measure is not vacuous: the old default size, a 3-panel figure 11 in wide
    # at 100 dpi with 7 pt ticks, is shrunk to a size nobody can read
    import matplotlib.pyplot as plt
    with matplotlib.rc_context({"figure.dpi": 100, "xtick.labelsize": 7,
                                "ytick.labelsize": 7, "legend.fontsize": 7}):
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
        for ax in axes:
            ax.plot([0, 1], [0, 1], label="SGD")
            ax.legend()
        text_px, width = displayed_text(fig)
    assert width > COLUMN_PX and text_px < MIN_TEXT_PX


def test_contours_are_grey_and_paths_coloured_with_distinct_markers(book_style):
    s = S.rosenbrock()
    ax = P.contour(s, _runs(s))
    contour_sets = [c for c in ax.collections if hasattr(c, "levels")]
    assert contour_sets and all(
        np.allclose(np.unique(c.get_edgecolor()[:, :3], axis=0), 0.72) for c in contour_sets)
    paths = lines_with(ax, "trajectory")
    markers = {line.get_color(): line.get_marker() for line in paths}
    assert len(set(markers.values())) == 3          # one marker per run (SGD, Momentum, Adam)
    assert set(markers) == {P.PALETTE["SGD"], P.PALETTE["Momentum"], P.PALETTE["Adam"]}


def test_subplots_is_column_wide_and_rejects_a_figsize(book_style):
    fig, axes = P.subplots(2, 3)
    assert axes.shape == (2, 3)
    assert fig.get_size_inches()[0] == pytest.approx(P.TEXT_WIDTH)
    assert fig.get_size_inches()[1] == pytest.approx(5.8)
    assert P.subplots(height=2.5)[0].get_size_inches()[1] == pytest.approx(2.5)
    with pytest.raises(ValueError, match="pass height= instead of figsize="):
        P.subplots(1, 2, figsize=(10, 3))
    with pytest.raises(ValueError, match="ncols must be an integer >= 1"):
        P.subplots(1, 0)
    with pytest.raises(ValueError, match="height must be a positive"):
        P.subplots(height=-1)


def test_animation_loss_panel_follows_the_paths(book_style):
    s = S.quadratic()
    gd = trajectory(s, optlib.SGD(lr=0.4), [[-5.0, -2.0], [4.0, 1.0]], steps=20)
    anim = P.animate(s, {"SGD": gd}, max_frames=5, loss=True)
    _, loss_ax = anim._fig.axes[:2]
    assert loss_ax.get_yscale() == "log"
    anim._draw_frame(len(anim.frame_steps) - 1)
    (curve,) = loss_ax.lines
    best = np.min(s.f(gd) - s.minimum, axis=1)     # the best of the two starts per step
    np.testing.assert_allclose(curve.get_ydata(), best)
    np.testing.assert_array_equal(curve.get_xdata(), np.arange(21))


def test_contour_and_animate_take_explicit_colours(book_style):
    s = S.saddle()
    runs = {"on the axis": np.zeros((5, 2)) + [1.0, 0.0], "off the axis": np.ones((5, 2))}
    ax = P.contour(s, runs, colors=["#000000", "#d62728"])
    assert [ln.get_color() for ln in lines_with(ax, "trajectory")] == ["#000000", "#d62728"]
    anim = P.animate(s, runs, max_frames=2, colors=["#000000", "#d62728"])
    heads = lines_with(anim._fig.axes[0], "head")
    assert [h.get_color() for h in heads] == ["#000000", "#d62728"]
    with pytest.raises(ValueError, match="colors has 1 entries but there are 2"):
        P.contour(s, runs, colors=["#000000"])
