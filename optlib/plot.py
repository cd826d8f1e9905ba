r"""Figures for the book: contours with trajectories, loss curves, schedules, animations.

matplotlib is imported inside each function (``pip install optlib[plot]``),
so ``import optlib`` works without it. Every function draws into ``ax`` when
given one, otherwise into a new figure, and returns the Axes (``animate``
returns the animation). Each optimizer keeps one colour in every figure
(:data:`PALETTE`, looked up by :func:`color_for`); runs that share a colour
in one plot (``"Adam lr=0.1"`` and ``"Adam lr=0.01"``) get different dash
patterns instead.

Figures are sized for the book's text column (:data:`TEXT_WIDTH` inches at
:data:`DPI`, 672 pixels): call :func:`use_book_style` once (every chapter's
setup cell does) and make multi-panel figures with :func:`subplots`, so a
figure is never shrunk to fit and its text stays as large as it was drawn.
Contour lines are light grey and trajectories take strong colours and
markers, so paths stand out from the level sets.

Conventions for trajectories (as returned by :func:`optlib.surfaces.trajectory`):
an array of shape ``(steps + 1, 2)`` is one path, ``(steps + 1, n, 2)`` is
``n`` paths drawn in the same colour under one label. ``trajectories`` may
be one such array, a list of them, or a dict ``label -> array``.
"""
from __future__ import annotations

import numbers
import pathlib
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from optlib._checks import check_int

__all__ = [
    "PALETTE", "TEXT_WIDTH", "DPI", "BOOK_STYLE", "use_book_style", "subplots",
    "color_for", "contour", "loss_curves", "schedule_plot", "animate", "animation_html",
]

#: Width of the book's text column in inches; at :data:`DPI` it is the
#: column's 672 CSS pixels, so a figure this wide is shown at its drawn size.
TEXT_WIDTH = 6.72
#: Resolution of the book's figures (pixels per inch).
DPI = 100
#: Smallest text, in points, that the book's style draws (tick and legend
#: labels): 9 pt at :data:`DPI` is 12.5 pixels in the text column.
MIN_FONT_PT = 9.0

#: matplotlib rcParams of the book: column-wide figures and legible text.
BOOK_STYLE: dict[str, Any] = {
    "figure.figsize": (TEXT_WIDTH, 3.9),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.constrained_layout.use": True,
    "font.size": 10.5,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10.5,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "figure.titlesize": 11,
    "lines.linewidth": 1.6,
    "axes.grid": False,
}

#: One colour per optimizer, the same in every figure: a high-contrast
#: qualitative palette (tab10 with black instead of its grey, which would
#: vanish into the grey contour lines).
PALETTE: dict[str, str] = {
    "SGD": "#1f77b4",
    "Momentum": "#ff7f0e",
    "Nesterov": "#2ca02c",
    "Adam": "#d62728",
    "RMSprop": "#9467bd",
    "Adagrad": "#8c564b",
    "Adadelta": "#e377c2",
    "AMSGrad": "#000000",
    "AdamW": "#bcbd22",
    "Yogi": "#17becf",
}

#: Markers of successive trajectory groups in one contour plot, so paths are
#: told apart without colour too.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
#: Colour of contour lines: light grey, under every trajectory colour.
CONTOUR_COLOR = "0.72"

# For labels that name no known optimizer: darker shades, picked by a stable
# hash of the label so a name keeps its colour from figure to figure.
_EXTRA_COLORS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
                 "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363")
_DASHES = ("-", "--", ":", "-.")

_XLABELS = {"update": "update $t$", "epoch": "epoch", "time": "wall-clock time (s)"}


def _pyplot():
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "optlib.plot needs matplotlib, which is not installed: "
            "pip install optlib[plot]  (or: pip install matplotlib)"
        ) from err
    return plt


def color_for(label: str | None) -> str:
    """The colour of an optimizer name, also when the label extends it.

    ``"Adam"``, ``"adam"`` and ``"Adam lr=0.1"`` are all Adam's colour; a
    label naming no optimizer in :data:`PALETTE` gets a fixed colour chosen by
    a hash of the label.
    """
    text = "" if label is None else str(label).strip()
    lower = text.lower()
    for name in sorted(PALETTE, key=len, reverse=True):
        key = name.lower()
        if lower == key or (lower.startswith(key) and not lower[len(key)].isalnum()):
            return PALETTE[name]
    return _EXTRA_COLORS[zlib.crc32(text.encode()) % len(_EXTRA_COLORS)]


def _styles(labels: Sequence[str | None], colors: Sequence[str] | None = None
            ) -> list[tuple[str, str]]:
    """(colour, linestyle) per label: its optimizer colour (or ``colors[i]``),
    dashed when a colour repeats."""
    if colors is not None and len(colors) != len(labels):
        raise ValueError(f"colors has {len(colors)} entries but there are "
                         f"{len(labels)} trajectories")
    seen: dict[str, int] = {}
    out = []
    for i, label in enumerate(labels):
        if colors is not None:
            color = colors[i]
        else:
            color = color_for(label) if label is not None else f"C{i % 10}"
        count = seen.get(color, 0)
        seen[color] = count + 1
        out.append((color, _DASHES[count % len(_DASHES)]))
    return out


def use_book_style() -> None:
    """Set matplotlib's rcParams to :data:`BOOK_STYLE` for the rest of the session.

    Figures then default to the text column's width at :data:`DPI`, with
    text of at least :data:`MIN_FONT_PT` points, and use constrained layout
    so labels of neighbouring panels do not collide. Every chapter's setup
    cell calls it; outside the book it is optional.
    """
    import matplotlib as mpl

    _pyplot()  # the helpful ImportError when matplotlib is missing
    mpl.rcParams.update(BOOK_STYLE)


def subplots(nrows: int = 1, ncols: int = 1, *, height: float | None = None,
             **kwargs: Any) -> tuple[Any, Any]:
    """``plt.subplots`` with the figure as wide as the text column.

    Parameters
    ----------
    nrows, ncols : int
        Grid of panels.
    height : float, optional
        Figure height in inches. Default: 3.9 for one row, 2.9 per row for more
        (square-ish panels for three across).
    **kwargs
        Passed to ``plt.subplots`` (``sharex``, ``sharey``, ``subplot_kw``, ...);
        ``figsize`` is not accepted: the width is the column's.

    Returns
    -------
    (Figure, Axes or array of Axes)
    """
    for name, value in (("nrows", nrows), ("ncols", ncols)):
        check_int(name, value, 1)
    if "figsize" in kwargs:
        raise ValueError("subplots sizes the figure to the text column; pass height= "
                         "instead of figsize=")
    if height is None:
        height = 3.9 if nrows == 1 else 2.9 * nrows
    elif not height > 0:
        raise ValueError(f"height must be a positive number of inches, got {height!r}")
    plt = _pyplot()
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH, float(height)), **kwargs)


def _new_axes(ax: Any) -> Any:
    if ax is None:
        _, ax = subplots()
    return ax


def _legend(ax: Any) -> None:
    # "best" places the legend where it covers the fewest plotted points
    # (paths and markers; contour lines do not count), at a legible size.
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="best", fontsize=MIN_FONT_PT, framealpha=0.9)


# ----------------------------------------------------------------------------
# contour plots and trajectories
# ----------------------------------------------------------------------------

def _trajectory_groups(trajectories: Any, labels: Sequence[str] | None
                       ) -> list[tuple[str | None, np.ndarray]]:
    """Normalise ``trajectories`` to ``[(label, array of shape (T, n, 2)), ...]``."""
    if trajectories is None:
        items: list[tuple[Any, Any]] = []
    elif isinstance(trajectories, Mapping):
        if labels is not None:
            raise ValueError("labels must be None when trajectories is a dict: "
                             "the dict keys are the labels")
        items = [(str(k), v) for k, v in trajectories.items()]
    else:
        arrays = ([trajectories] if isinstance(trajectories, np.ndarray)
                  else list(trajectories))
        if labels is None:
            names: list[Any] = [None] * len(arrays)
        else:
            names = [labels] if isinstance(labels, str) else list(labels)
            if len(names) != len(arrays):
                raise ValueError(f"labels has {len(names)} entries but there are "
                                 f"{len(arrays)} trajectories")
        items = list(zip(names, arrays))
    groups = []
    for i, (label, arr) in enumerate(items):
        path = np.asarray(arr, dtype=np.float64)
        if path.ndim == 2 and path.shape[-1] == 2:
            path = path[:, None, :]
        if path.ndim != 3 or path.shape[-1] != 2 or len(path) == 0:
            where = f"trajectories[{label!r}]" if label is not None else f"trajectories[{i}]"
            raise ValueError(f"{where} must have shape (steps + 1, 2) or (steps + 1, n, 2), "
                             f"got shape {path.shape}")
        groups.append((label, path))
    return groups


def _last_finite(path: np.ndarray) -> np.ndarray:
    """Per path of ``(T, n, 2)``, the last point with both coordinates finite (or nan)."""
    finite = np.isfinite(path).all(axis=-1)                        # (T, n)
    last = len(path) - 1 - np.argmax(finite[::-1], axis=0)         # (n,)
    points = path[last, np.arange(path.shape[1])]
    points[~finite.any(axis=0)] = np.nan
    return points


def _levels(Z: np.ndarray, levels: Any, log_levels: bool) -> Any:
    """Explicit levels pass through; a count becomes linear or log-spaced levels."""
    if not isinstance(levels, numbers.Integral):
        return np.asarray(levels, dtype=np.float64)
    zmin, zmax = np.nanmin(Z), np.nanmax(Z[np.isfinite(Z)])
    span = zmax - zmin
    if not span > 0:
        return int(levels)
    if log_levels:
        # Log spacing above the lowest grid value resolves narrow valleys
        # (Rosenbrock, Beale) that linear levels leave blank.
        offsets = (Z - zmin)[np.isfinite(Z)]
        low = max(float(np.quantile(offsets, 0.01)), span * 1e-6)
        return zmin + np.geomspace(low, span, int(levels))
    return np.linspace(zmin, zmax, int(levels))


def contour(surface: Any, trajectories: Any = None, labels: Sequence[str] | None = None,
            ax: Any = None, levels: int | Sequence[float] = 30,
            log_levels: bool | None = None, resolution: int = 201,
            title: str | None = None, colors: Sequence[str] | None = None) -> Any:
    r"""Contour plot of ``surface`` with optimizer trajectories.

    Draws the level sets :math:`f(x, y) = c` over the surface's window, the
    minimizers :math:`(x^\star, y^\star)` as stars, and for each trajectory
    its path :math:`x_0, x_1, \dots` (one line per starting point), a hollow
    circle at :math:`x_0` and a cross at the last finite iterate.

    Parameters
    ----------
    surface : optlib.surfaces.Surface
    trajectories : ndarray, list of ndarrays or dict label -> ndarray, optional
        Shapes ``(steps + 1, 2)`` or ``(steps + 1, n, 2)``.
    labels : list of str, optional
        Legend labels when ``trajectories`` is an array or list; optimizer
        names pick the colours (see :func:`color_for`).
    ax : matplotlib Axes, optional
    levels : int or sequence of float
        Number of contour levels, or the levels themselves.
    log_levels : bool, optional
        Space the levels geometrically above the window's lowest value.
        Default: when the surface has a finite minimum (not the saddle).
    resolution : int
        Grid points per axis.
    title : str, optional
        Default: the surface's name.
    colors : sequence of str, optional
        One colour per trajectory group, overriding the optimizer colours
        (for runs of one optimizer that must be told apart at a glance).

    Returns
    -------
    matplotlib Axes
        Lines carry a ``gid``: ``"trajectory"``, ``"start"``, ``"end"``,
        ``"minimizer"``.
    """
    groups = _trajectory_groups(trajectories, labels)
    ax = _new_axes(ax)
    X, Y, Z = surface.grid(resolution)
    if log_levels is None:
        log_levels = bool(np.isfinite(surface.minimum))
    ax.contour(X, Y, Z, levels=_levels(Z, levels, log_levels), colors=CONTOUR_COLOR,
               linewidths=0.6)
    if len(surface.minimizers):
        ax.plot(surface.minimizers[:, 0], surface.minimizers[:, 1], ls="none", marker="*",
                ms=13, mfc="gold", mec="black", mew=0.8, zorder=4, gid="minimizer",
                label="minimizer" if groups else "_nolegend_")
    for i, ((label, path), (color, dash)) in enumerate(
            zip(groups, _styles([g[0] for g in groups], colors))):
        # a marker on about a dozen iterates tells the paths apart in grey print
        marker = _MARKERS[i % len(_MARKERS)]
        every = max(1, (len(path) - 1) // 12)
        lines = ax.plot(path[..., 0], path[..., 1], color=color, ls=dash, lw=1.6,
                        marker=marker, ms=3.5, markevery=every, gid="trajectory")
        for j, line in enumerate(lines):
            line.set_label(label if (j == 0 and label is not None) else "_nolegend_")
        ax.plot(path[0, :, 0], path[0, :, 1], ls="none", marker="o", ms=7, mfc="white",
                mec=color, mew=1.6, zorder=3, gid="start")
        end = _last_finite(path)
        ax.plot(end[:, 0], end[:, 1], ls="none", marker="X", ms=8, color=color,
                mec="black", mew=0.6, zorder=3, gid="end")
    if groups:  # one legend entry each for the start and end symbols
        ax.plot([], [], ls="none", marker="o", ms=7, mfc="white", mec="black",
                mew=1.4, label="start")
        ax.plot([], [], ls="none", marker="X", ms=8, color="0.4", mec="black",
                mew=0.6, label="end")
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(surface.name if title is None else title)
    _legend(ax)
    return ax


# ----------------------------------------------------------------------------
# loss curves
# ----------------------------------------------------------------------------

def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start)."""
    csum = np.concatenate([[0.0], np.cumsum(values)])
    end = np.arange(1, len(values) + 1)
    start = np.maximum(end - window, 0)
    return (csum[end] - csum[start]) / (end - start)


def _extrapolate(u: np.ndarray, knots_u: np.ndarray, knots_v: np.ndarray) -> np.ndarray:
    """Piecewise-linear map through the knots, continued past the last one."""
    v = np.interp(u, knots_u, knots_v)
    slope = (knots_v[-1] - knots_v[-2]) / (knots_u[-1] - knots_u[-2])
    beyond = u > knots_u[-1]
    v[beyond] = knots_v[-1] + (u[beyond] - knots_u[-1]) * slope
    return v


def _history_series(name: Any, run: Any, x: str, metric: str | None
                    ) -> tuple[np.ndarray, np.ndarray, str]:
    """(x, y, y label) of a History: per-update or per-epoch metric, on any x axis."""
    if metric is None:
        candidates = ("loss",) if x == "update" else ("train_loss", "test_loss", "loss")
        metric = next((m for m in candidates if len(np.atleast_1d(getattr(run, m, ())))),
                      candidates[0])
    if not hasattr(run, metric):
        raise ValueError(f"run {name!r} has no attribute {metric!r} to plot")
    ys = np.asarray(getattr(run, metric), dtype=np.float64).ravel()
    if not len(ys):
        raise ValueError(f"run {name!r} recorded no {metric} (an empty array)")
    n_updates = len(np.atleast_1d(getattr(run, "loss", ())))
    epoch_updates = np.asarray(getattr(run, "epoch_updates", ()), dtype=np.float64).ravel()
    epoch_seconds = np.asarray(getattr(run, "epoch_seconds", ()), dtype=np.float64).ravel()
    n_epochs = len(epoch_seconds)
    if len(ys) == n_epochs and (metric != "loss" or n_updates != n_epochs):
        # a per-epoch metric: its points sit at the end of each epoch
        xs = {"update": epoch_updates, "epoch": np.arange(1.0, n_epochs + 1),
              "time": np.cumsum(epoch_seconds)}[x]
        if len(xs) != len(ys):
            raise ValueError(f"run {name!r} lacks epoch_updates to place {metric} on updates")
        return xs, ys, metric.replace("_", " ")
    if len(ys) != n_updates:
        raise ValueError(f"run {name!r}: {metric} has {len(ys)} entries, neither one per "
                         f"update ({n_updates}) nor one per epoch ({n_epochs})")
    updates = np.arange(1.0, n_updates + 1)  # update t = 1, 2, ... as History.updates
    if x == "update":
        return updates, ys, metric.replace("_", " ")
    if n_epochs == 0 or len(epoch_updates) != n_epochs:
        raise ValueError(f"run {name!r} completed no epoch, so its {metric} cannot be "
                         f"placed on x={x!r}; use x='update'")
    knots_u = np.concatenate([[0.0], epoch_updates])
    knots_v = np.concatenate([[0.0], np.arange(1.0, n_epochs + 1) if x == "epoch"
                              else np.cumsum(epoch_seconds)])
    return _extrapolate(updates, knots_u, knots_v), ys, metric.replace("_", " ")


def _series(name: Any, run: Any, x: str, metric: str | None
            ) -> tuple[np.ndarray, np.ndarray, str]:
    """(x values, y values, y label) of one run: a History or a 1-D array."""
    if not isinstance(run, (np.ndarray, list, tuple)):
        return _history_series(name, run, x, metric)
    if metric is not None:
        raise ValueError(f"run {name!r} is a plain array, so metric={metric!r} "
                         "cannot be looked up; pass a History")
    ys = np.asarray(run, dtype=np.float64)
    if ys.ndim != 1:
        raise ValueError(f"run {name!r} must be a 1-D array of losses, got shape {ys.shape}")
    if x == "time":
        raise ValueError(f"run {name!r} is a plain array of losses without timing; "
                         "pass a History or use x='update'")
    return np.arange(1, len(ys) + 1), ys, "loss"


def loss_curves(histories: Any, ax: Any = None, logy: bool = True, smooth: int | None = None,
                x: str = "update", metric: str | None = None) -> Any:
    r"""Loss (or another metric) of several training runs against updates, epochs or time.

    Parameters
    ----------
    histories : dict name -> History or 1-D array, or a single one
        ``History`` objects from :mod:`optlib.train` (``loss`` per update;
        ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc`` per epoch,
        with ``epoch_updates`` and ``epoch_seconds``), or plain arrays of
        losses (per update; per epoch with ``x="epoch"``). Names that are
        optimizer names pick the optimizer's colour.
    ax : matplotlib Axes, optional
    logy : bool
        Logarithmic vertical axis.
    smooth : int, optional
        Window :math:`w` of a trailing moving average
        :math:`\bar\ell_t = \frac{1}{w}\sum_{j=t-w+1}^{t} \ell_j` (fewer terms
        for :math:`t < w`); the raw curve stays underneath, faint.
    x : {"update", "epoch", "time"}
        Horizontal axis: update number :math:`t = 1, 2, \dots` (as
        ``History.updates``), epoch, or wall-clock seconds of the updates
        (cumulative ``epoch_seconds``). A per-epoch metric sits at the end
        of each epoch; a per-update metric is placed on the epoch or time
        axis by interpolating within each epoch.
    metric : str, optional
        History attribute to plot. Default: ``loss`` for ``x="update"``,
        otherwise the first recorded of ``train_loss``, ``test_loss``, ``loss``.

    Returns
    -------
    matplotlib Axes
    """
    if x not in _XLABELS:
        raise ValueError(f"x must be one of {sorted(_XLABELS)}, got {x!r}")
    if smooth is not None and (isinstance(smooth, bool) or not isinstance(smooth, numbers.Integral)
                               or smooth < 1):
        raise ValueError(f"smooth must be None or a window length >= 1, got {smooth!r}")
    runs = list(histories.items()) if isinstance(histories, Mapping) else [(None, histories)]
    series = [_series(name, run, x, metric) for name, run in runs]  # validate first
    ax = _new_axes(ax)
    for (name, _), (xs, ys, ylabel), (color, dash) in zip(
            runs, series, _styles([n for n, _ in runs])):
        label = "_nolegend_" if name is None else str(name)
        if smooth is not None and smooth > 1:
            ax.plot(xs, ys, color=color, ls=dash, lw=0.7, alpha=0.3, label="_nolegend_")
            ys = _moving_average(ys, int(smooth))
        ax.plot(xs, ys, color=color, ls=dash, lw=1.4, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(_XLABELS[x])
    ax.set_ylabel(series[0][2] if series else "loss")
    _legend(ax)
    return ax


# ----------------------------------------------------------------------------
# schedules
# ----------------------------------------------------------------------------

def schedule_plot(schedules: Mapping[str, Callable[[np.ndarray], Any]] | Callable,
                  steps: int, ax: Any = None, logy: bool = False) -> Any:
    r"""Learning rate :math:`\eta(k)` against the update count :math:`k = 0, \dots, steps - 1`.

    Parameters
    ----------
    schedules : dict name -> callable, or one callable
        Schedules ``lr(k)`` from :mod:`optlib.schedules`, called once with the
        integer array ``k``.
    steps : int
        Number of updates shown.
    ax : matplotlib Axes, optional
    logy : bool
        Logarithmic learning-rate axis.

    Returns
    -------
    matplotlib Axes
    """
    steps = check_int("steps", steps, 1)
    items = list(schedules.items()) if isinstance(schedules, Mapping) else [(None, schedules)]
    k = np.arange(steps)
    curves = []
    for name, schedule in items:
        if not callable(schedule):
            raise TypeError(f"schedule {name!r} must be a callable lr(k), "
                            f"got {type(schedule).__name__}")
        lr = np.asarray(schedule(k), dtype=np.float64)
        if lr.shape == ():
            lr = np.full(k.shape, float(lr))
        if lr.shape != k.shape:
            raise ValueError(f"schedule {name!r} returned shape {lr.shape} for k of shape "
                             f"{k.shape}; a schedule must accept an integer array")
        curves.append(lr)
    ax = _new_axes(ax)
    for (name, _), lr in zip(items, curves):
        ax.plot(k, lr, lw=1.5, label="_nolegend_" if name is None else str(name))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("update $k$")
    ax.set_ylabel(r"learning rate $\eta(k)$")
    _legend(ax)
    return ax


# ----------------------------------------------------------------------------
# animations
# ----------------------------------------------------------------------------

class _HTML:
    """Minimal stand-in for IPython.display.HTML when IPython is absent."""

    def __init__(self, data: str) -> None:
        self.data = data

    def _repr_html_(self) -> str:
        return self.data


def _frame_steps(length: int, max_frames: int) -> np.ndarray:
    """Evenly spaced step indices 0 .. length-1, at most ``max_frames`` of them."""
    count = min(length, max_frames)
    return np.unique(np.round(np.linspace(0, length - 1, count)).astype(int))


def animate(surface: Any, trajectories: Any, labels: Sequence[str] | None = None, *,
            interval: int = 100, max_frames: int = 40, dpi: int = DPI,
            figsize: tuple[float, float] | None = None, loss: bool = False,
            colors: Sequence[str] | None = None, html: bool = False,
            **contour_kwargs: Any) -> Any:
    r"""Animate trajectories growing over the contour plot of ``surface``.

    Frames show the iterates :math:`x_0, \dots, x_k` for at most
    ``max_frames`` evenly spaced :math:`k` (always the first and the last).
    With ``loss=True`` a second panel draws :math:`f(x_k) - f^\star` against
    :math:`k` as the paths grow (the best of each group of paths: its
    minimum over starting points), so the reader sees where along the path
    the loss falls. The default size is the text column's width, so the
    animation is shown at the size it was drawn.

    Parameters
    ----------
    surface, trajectories, labels
        As for :func:`contour`.
    interval : int
        Milliseconds between frames.
    max_frames : int
        Upper bound on the number of frames.
    dpi : int
        Resolution of each frame (default :data:`DPI`).
    figsize : (float, float), optional
        Figure size in inches. Default: :data:`TEXT_WIDTH` wide, 4.2 high
        (3.4 with the loss panel).
    loss : bool
        Add the loss panel beside the contour plot. Needs a surface with a
        finite minimum (``surface.minimum``); else :math:`f(x_k)` is drawn.
    colors : sequence of str, optional
        One colour per trajectory group, as for :func:`contour`.
    html : bool
        Return :func:`animation_html` of the animation (for the static book)
        instead of the animation.
    **contour_kwargs
        Passed to :func:`contour` (``levels``, ``log_levels``, ``title``).

    Returns
    -------
    matplotlib.animation.FuncAnimation, or an HTML object when ``html=True``
        The animation has an extra attribute ``frame_steps``: the step index
        :math:`k` shown in each frame.
    """
    max_frames = check_int("max_frames", max_frames, 1)
    groups = _trajectory_groups(trajectories, labels)
    if not groups:
        raise ValueError("trajectories is empty: pass at least one array of shape "
                         "(steps + 1, 2) or (steps + 1, n, 2)")
    plt = _pyplot()
    from matplotlib.animation import FuncAnimation

    if figsize is None:
        figsize = (TEXT_WIDTH, 3.4 if loss else 4.2)
    if loss:
        fig, (ax, loss_ax) = plt.subplots(
            1, 2, figsize=figsize, dpi=dpi, layout="constrained",
            gridspec_kw={"width_ratios": (1.35, 1)})
    else:
        fig, ax = plt.subplots(figsize=figsize, dpi=dpi, layout="constrained")
        loss_ax = None
    # fewer levels than a still figure: every frame redraws them, and smaller frames
    contour(surface, ax=ax, **{"levels": 15, **contour_kwargs})
    base_title = ax.get_title()
    artists = []
    floor = surface.minimum if np.isfinite(surface.minimum) else 0.0
    for i, ((label, path), (color, dash)) in enumerate(
            zip(groups, _styles([g[0] for g in groups], colors))):
        marker = _MARKERS[i % len(_MARKERS)]
        lines = ax.plot(path[:1, :, 0], path[:1, :, 1], color=color, ls=dash, lw=1.6,
                        gid="trajectory")
        for j, line in enumerate(lines):
            line.set_label(label if (j == 0 and label is not None) else "_nolegend_")
        ax.plot(path[0, :, 0], path[0, :, 1], ls="none", marker="o", ms=6, mfc="white",
                mec=color, mew=1.4, zorder=3, gid="start")
        (head,) = ax.plot(path[0, :, 0], path[0, :, 1], ls="none", marker=marker, ms=6,
                          color=color, mec="black", mew=0.5, zorder=4, gid="head")
        curve, values = None, None
        if loss_ax is not None:
            with np.errstate(all="ignore"):
                values = np.min(surface.f(path) - floor, axis=1)     # (T,)
            (curve,) = loss_ax.plot(values[:1], color=color, ls=dash, lw=1.6,
                                    label="_nolegend_" if label is None else str(label))
        artists.append((path, lines, head, curve, values))
    _legend(ax)
    frame_steps = _frame_steps(max(len(a[0]) for a in artists), max_frames)
    if loss_ax is not None:
        finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for *_, v in artists])
        loss_ax.set_yscale("log")
        if finite.size:
            loss_ax.set_ylim(finite.min() / 2, finite.max() * 2)
        loss_ax.set_xlim(0, max(len(a[0]) for a in artists) - 1)
        loss_ax.set_xlabel("step $k$")
        loss_ax.set_ylabel(r"$f(x_k) - f^\star$" if np.isfinite(surface.minimum)
                           else "$f(x_k)$")

    def draw_frame(i: int) -> list:
        k = int(frame_steps[i])
        changed = [ax.title]
        for path, lines, head, curve, values in artists:
            kk = min(k, len(path) - 1)
            for j, line in enumerate(lines):  # one line per starting point
                line.set_data(path[: kk + 1, j, 0], path[: kk + 1, j, 1])
            head.set_data(path[kk, :, 0], path[kk, :, 1])
            changed += [*lines, head]
            if curve is not None:
                curve.set_data(np.arange(kk + 1), values[: kk + 1])
                changed.append(curve)
        ax.set_title(f"{base_title}, step {k}")
        return changed

    # lay the figure out once, then freeze it: constrained layout would
    # otherwise run again for every frame (half of the rendering time)
    fig.canvas.draw()
    fig.set_layout_engine("none")
    anim = FuncAnimation(fig, draw_frame, frames=len(frame_steps), interval=interval,
                         blit=True, repeat=False, cache_frame_data=False)
    anim.frame_steps = frame_steps
    if html:
        return animation_html(anim)
    return anim


def animation_html(anim: Any, close: bool = True, frame_format: str = "jpeg",
                   quality: int = 75) -> Any:
    """The animation as a self-contained JavaScript player for notebooks and the HTML book.

    Like ``IPython.display.HTML(anim.to_jshtml())`` (a plain object with
    ``_repr_html_`` when IPython is absent), but the frames are JPEG by
    default: matplotlib's PNG frames of a contour plot are about four times
    larger, and every byte is embedded in the built book. With ``close=True``
    the animation's figure is closed, so the notebook does not also show it
    as a static image.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
    close : bool
        Close the animation's figure afterwards.
    frame_format : {"jpeg", "png"}
        Image format of the embedded frames.
    quality : int
        JPEG quality, 1 to 95.
    """
    if frame_format not in ("jpeg", "png"):
        raise ValueError(f"frame_format must be 'jpeg' or 'png', got {frame_format!r}")
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) \
            or not 1 <= quality <= 95:
        raise ValueError(f"quality must be an integer in [1, 95], got {quality!r}")
    plt = _pyplot()
    import matplotlib as mpl
    from matplotlib.animation import HTMLWriter

    fps = 1000.0 / getattr(anim, "_interval", 200)  # as Animation.to_jshtml does
    savefig_kwargs = {"pil_kwargs": {"quality": int(quality)}} if frame_format == "jpeg" else {}
    with tempfile.TemporaryDirectory() as tmpdir:
        path = pathlib.Path(tmpdir, "animation.html")
        with mpl.rc_context({"animation.frame_format": frame_format}):
            writer = HTMLWriter(fps=fps, embed_frames=True, default_mode="once")
        anim.save(str(path), writer=writer, savefig_kwargs=savefig_kwargs)
        text = path.read_text()
    if close:
        plt.close(anim._fig)
    try:
        from IPython.display import HTML
    except ImportError:
        return _HTML(text)
    return HTML(text)
