r"""Interactive explorers for live notebooks (``pip install optlib[widgets]``).

ipywidgets and matplotlib are imported inside :func:`explorer`, so
``import optlib.widgets`` works without them. In the static HTML book the
widgets do not run (there is no kernel); the chapters show animations there
and offer the explorer to readers who open the notebook.

::

    from optlib.widgets import explorer
    ex = explorer(surface="rosenbrock", optimizer="Momentum", lr=1e-3)
    ex                      # the last expression of a cell: shows the controls

Every control redraws the contour plot with the new trajectory
:math:`x_0, x_1, \dots, x_T` of :func:`optlib.surfaces.trajectory`. The
pieces stay reachable from code: ``ex.lr_slider.value = 0.05`` recomputes
``ex.path`` and ``ex.figure`` just as dragging the slider does.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optlib import optimizers as _opt
from optlib import plot as _plot
from optlib import surfaces as _surfaces

__all__ = ["OPTIMIZERS", "Explorer", "explorer"]

Builder = Callable[[float, float, float], Any]

#: How the explorer builds each optimizer from the sliders ``(lr, beta1, beta2)``,
#: and which of ``beta1`` / ``beta2`` it uses. ``check_finite=False``: a
#: trajectory that diverges is something to look at, not an error.
OPTIMIZERS: dict[str, tuple[Builder, tuple[str, ...]]] = {
    "SGD": (lambda lr, b1, b2: _opt.SGD(lr=lr, check_finite=False), ()),
    "Momentum": (lambda lr, b1, b2: _opt.Momentum(lr=lr, momentum=b1, check_finite=False),
                 ("beta1",)),
    "Nesterov": (lambda lr, b1, b2: _opt.Nesterov(lr=lr, momentum=b1, check_finite=False),
                 ("beta1",)),
    "Adagrad": (lambda lr, b1, b2: _opt.Adagrad(lr=lr, check_finite=False), ()),
    "RMSprop": (lambda lr, b1, b2: _opt.RMSprop(lr=lr, alpha=b2, check_finite=False),
                ("beta2",)),
    "Adadelta": (lambda lr, b1, b2: _opt.Adadelta(lr=lr, rho=b2, check_finite=False),
                 ("beta2",)),
    "Adam": (lambda lr, b1, b2: _opt.Adam(lr=lr, betas=(b1, b2), check_finite=False),
             ("beta1", "beta2")),
    "AMSGrad": (lambda lr, b1, b2: _opt.AMSGrad(lr=lr, betas=(b1, b2), check_finite=False),
                ("beta1", "beta2")),
    "AdamW": (lambda lr, b1, b2: _opt.AdamW(lr=lr, betas=(b1, b2), check_finite=False),
              ("beta1", "beta2")),
    "Yogi": (lambda lr, b1, b2: _opt.Yogi(lr=lr, betas=(b1, b2), check_finite=False),
             ("beta1", "beta2")),
}

# slider ranges: (low, high)
_LR_EXPONENTS = (-5, 1)          # lr from 1e-5 to 10, log scale
_BETA1_RANGE = (0.0, 0.999)      # momentum mu, Adam's beta1
_BETA2_RANGE = (0.5, 0.9999)     # Adam's beta2, RMSprop's alpha, Adadelta's rho
_STEPS_RANGE = (1, 2000)
_NOISE_RANGE = (0.0, 20.0)


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as err:
        raise ImportError(
            "optlib.widgets needs ipywidgets, which is not installed: "
            "pip install optlib[widgets]  (or: pip install ipywidgets matplotlib)"
        ) from err
    return ipywidgets


def _check_in(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not low <= float(value) <= high:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _choose(name: str, value: str, options: Mapping[str, Any]) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value


def _first_nonfinite(path: np.ndarray) -> int | None:
    """The first step whose point is not finite, or None."""
    bad = ~np.isfinite(path.reshape(len(path), -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


class Explorer:
    r"""Controls, plot and last result of :func:`explorer`.

    Attributes
    ----------
    container : ipywidgets.VBox
        Everything, laid out; displaying the Explorer displays this.
    surface_dropdown, optimizer_dropdown : ipywidgets.Dropdown
    lr_slider : ipywidgets.FloatLogSlider
        Learning rate :math:`\eta`.
    beta1_slider : ipywidgets.FloatSlider
        Momentum :math:`\beta` (Momentum, Nesterov) or :math:`\beta_1` (Adam family).
    beta2_slider : ipywidgets.FloatSlider
        :math:`\beta_2` (Adam family), or the decay :math:`\gamma` of RMSprop
        (``alpha``) and Adadelta (``rho``).
    x0_slider, y0_slider : ipywidgets.FloatSlider
        Starting point :math:`(x_0, y_0)`.
    steps_slider : ipywidgets.IntSlider
        Number of updates :math:`T`.
    noise_slider : ipywidgets.FloatSlider
        Standard deviation :math:`\sigma` of Gaussian gradient noise (0: exact gradients).
    status : ipywidgets.HTML
        Final value :math:`f(x_T)`, or the step where the run diverged.
    output : ipywidgets.Output
        Where the figure is shown.
    path : ndarray, shape (T + 1, 2)
        The trajectory last drawn.
    figure : matplotlib Figure
        The figure last drawn (closed after display; its Axes remain readable).
    """

    def __init__(self, widgets: Any, surfaces: Mapping[str, Any], surface: str,
                 optimizer: str, lr: float, beta1: float, beta2: float,
                 x0: tuple[float, float] | None, steps: int, noise: float, seed: int,
                 figsize: tuple[float, float] | None) -> None:
        self.surfaces = dict(surfaces)
        self.seed = seed
        self.figsize = figsize
        self.path: np.ndarray | None = None
        self.figure: Any = None
        self._busy = False
        start = self.surfaces[surface].start if x0 is None else x0
        style = {"description_width": "initial"}
        self.surface_dropdown = widgets.Dropdown(options=list(self.surfaces), value=surface,
                                                 description="surface")
        self.optimizer_dropdown = widgets.Dropdown(options=list(OPTIMIZERS), value=optimizer,
                                                   description="optimizer")
        self.lr_slider = widgets.FloatLogSlider(
            value=lr, base=10, min=_LR_EXPONENTS[0], max=_LR_EXPONENTS[1], step=0.05,
            description="learning rate η", readout_format=".2e", style=style)
        self.beta1_slider = widgets.FloatSlider(
            value=beta1, min=_BETA1_RANGE[0], max=_BETA1_RANGE[1], step=0.001,
            description="momentum β / β₁", readout_format=".3f", style=style)
        self.beta2_slider = widgets.FloatSlider(
            value=beta2, min=_BETA2_RANGE[0], max=_BETA2_RANGE[1], step=0.0001,
            description="β₂ / α / ρ", readout_format=".4f", style=style)
        self.x0_slider = widgets.FloatSlider(description="x₀", style=style)
        self.y0_slider = widgets.FloatSlider(description="y₀", style=style)
        self._fit_start_sliders(self.surfaces[surface], start)
        self.steps_slider = widgets.IntSlider(value=steps, min=_STEPS_RANGE[0],
                                              max=_STEPS_RANGE[1], description="steps T")
        self.noise_slider = widgets.FloatSlider(
            value=noise, min=_NOISE_RANGE[0], max=_NOISE_RANGE[1], step=0.05,
            description="gradient noise σ", style=style)
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.container = widgets.VBox([
            widgets.HBox([self.surface_dropdown, self.optimizer_dropdown]),
            self.lr_slider,
            widgets.HBox([self.beta1_slider, self.beta2_slider]),
            widgets.HBox([self.x0_slider, self.y0_slider]),
            widgets.HBox([self.steps_slider, self.noise_slider]),
            self.status,
            self.output,
        ])
        self._enable_betas()
        self.surface_dropdown.observe(self._on_surface, names="value")
        self.optimizer_dropdown.observe(self._on_optimizer, names="value")
        for slider in (self.lr_slider, self.beta1_slider, self.beta2_slider, self.x0_slider,
                       self.y0_slider, self.steps_slider, self.noise_slider):
            slider.observe(self._on_change, names="value")
        self.redraw()

    # -- what the controls say ------------------------------------------------

    @property
    def surface(self) -> Any:
        """The chosen surface, with gradient noise when the noise slider is above 0."""
        surface = self.surfaces[self.surface_dropdown.value]
        sigma = float(self.noise_slider.value)
        # a fixed seed: the same settings always draw the same noisy path
        return _surfaces.noisy(surface, sigma, seed=self.seed) if sigma > 0 else surface

    def make_optimizer(self) -> Any:
        """A fresh optimizer with the sliders' hyperparameters."""
        build, _ = OPTIMIZERS[self.optimizer_dropdown.value]
        return build(float(self.lr_slider.value), float(self.beta1_slider.value),
                     float(self.beta2_slider.value))

    def settings(self) -> dict[str, Any]:
        """The current choices, as keyword arguments of :func:`explorer`."""
        return {
            "surface": self.surface_dropdown.value,
            "optimizer": self.optimizer_dropdown.value,
            "lr": float(self.lr_slider.value),
            "beta1": float(self.beta1_slider.value),
            "beta2": float(self.beta2_slider.value),
            "x0": (float(self.x0_slider.value), float(self.y0_slider.value)),
            "steps": int(self.steps_slider.value),
            "noise": float(self.noise_slider.value),
        }

    # -- drawing ----------------------------------------------------------------

    def redraw(self) -> np.ndarray:
        """Recompute the trajectory, redraw the figure, return the trajectory."""
        surface = self.surface
        name = self.optimizer_dropdown.value
        x0 = (float(self.x0_slider.value), float(self.y0_slider.value))
        self.path = _surfaces.trajectory(surface, self.make_optimizer(), x0,
                                         int(self.steps_slider.value))
        plt = _plot._pyplot()
        fig, ax = plt.subplots(figsize=self.figsize, layout="constrained")
        _plot.contour(surface, {name: self.path}, ax=ax)
        self.figure = fig
        self.status.value = self._summary(surface)
        self._show(fig)
        plt.close(fig)  # shown once in the output, not again at the end of the cell
        return self.path

    def _summary(self, surface: Any) -> str:
        bad = _first_nonfinite(self.path)
        if bad is not None:
            return f"<b>diverged</b> at step {bad}: lower the learning rate"
        final = float(surface.f(self.path[-1]))
        gap = final - surface.minimum
        gap_text = f", f(x_T) − f* = {gap:.3e}" if np.isfinite(surface.minimum) else ""
        return f"f(x_T) = {final:.6g}{gap_text}"

    def _show(self, fig: Any) -> None:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is None:  # plain Python (tests, scripts): nothing to show into
            return
        with self.output:
            self.output.clear_output(wait=True)
            display(fig)

    # -- reacting to the controls -------------------------------------------------

    def _fit_start_sliders(self, surface: Any, start: tuple[float, float]) -> None:
        """Give the start sliders the surface's window as range, and ``start`` as value."""
        for slider, (low, high), value in ((self.x0_slider, surface.xlim, start[0]),
                                           (self.y0_slider, surface.ylim, start[1])):
            # widen first, then narrow: min may never exceed max along the way
            slider.min, slider.max = min(low, slider.min), max(high, slider.max)
            slider.min, slider.max = low, high
            slider.step = (high - low) / 200
            slider.value = float(np.clip(value, low, high))

    def _enable_betas(self) -> None:
        _, uses = OPTIMIZERS[self.optimizer_dropdown.value]
        self.beta1_slider.disabled = "beta1" not in uses
        self.beta2_slider.disabled = "beta2" not in uses

    def _on_change(self, change: Any = None) -> None:
        if not self._busy:
            self.redraw()

    def _on_surface(self, change: Any) -> None:
        self._busy = True
        try:
            self._fit_start_sliders(self.surfaces[change["new"]],
                                    self.surfaces[change["new"]].start)
        finally:
            self._busy = False
        self.redraw()

    def _on_optimizer(self, change: Any) -> None:
        self._enable_betas()
        self.redraw()

    # -- display --------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.container._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"Explorer({self.settings()})"


def explorer(surface: str = "rosenbrock", optimizer: str = "Adam", lr: float = 0.05,
             beta1: float = 0.9, beta2: float = 0.999, x0: tuple[float, float] | None = None,
             steps: int = 200, noise: float = 0.0, seed: int = 0,
             surfaces: Mapping[str, Any] | None = None,
             figsize: tuple[float, float] | None = None) -> Explorer:
    r"""A live optimizer playground: pick a surface and an optimizer, drag the sliders.

    Parameters
    ----------
    surface : str
        Initial surface, a key of ``surfaces``.
    optimizer : str
        Initial optimizer, a key of :data:`OPTIMIZERS`.
    lr : float
        Learning rate :math:`\eta` in [1e-5, 10] (log slider).
    beta1 : float
        Momentum :math:`\beta` or Adam's :math:`\beta_1`, in [0, 0.999].
    beta2 : float
        :math:`\beta_2`, or the decay :math:`\gamma` of RMSprop (``alpha``) and Adadelta
        (``rho``), in [0.5, 0.9999].
    x0 : (float, float), optional
        Starting point; default the surface's ``start``.
    steps : int
        Number of updates :math:`T`, 1 to 2000.
    noise : float
        Gradient noise :math:`\sigma` (see :func:`optlib.surfaces.noisy`), 0 to 20.
    seed : int
        Seed of the gradient noise.
    surfaces : dict name -> Surface, optional
        The surfaces to choose from; default one of each in
        :data:`optlib.surfaces.SURFACES`.
    figsize : (float, float), optional
        Figure size in inches; default matplotlib's (the text column's width
        after :func:`optlib.plot.use_book_style`).

    Returns
    -------
    Explorer
        Displays as the widget container; holds the controls (``lr_slider``,
        ...), ``redraw()``, and the last ``path`` and ``figure``.
    """
    widgets = _ipywidgets()
    _plot._pyplot()  # fail now, with the install hint, if matplotlib is missing
    if surfaces is None:
        surfaces = {name: factory() for name, factory in _surfaces.SURFACES.items()}
    if not surfaces:
        raise ValueError("surfaces must hold at least one Surface")
    surface = _choose("surface", surface, surfaces)
    optimizer = _choose("optimizer", optimizer, OPTIMIZERS)
    lr = _check_in("lr", lr, 10.0 ** _LR_EXPONENTS[0], 10.0 ** _LR_EXPONENTS[1])
    beta1 = _check_in("beta1", beta1, *_BETA1_RANGE)
    beta2 = _check_in("beta2", beta2, *_BETA2_RANGE)
    noise = _check_in("noise", noise, *_NOISE_RANGE)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) \
            or not _STEPS_RANGE[0] <= steps <= _STEPS_RANGE[1]:
        raise ValueError(f"steps must be an integer in [{_STEPS_RANGE[0]}, "
                         f"{_STEPS_RANGE[1]}], got {steps!r}")
    if x0 is not None:
        window = surfaces[surface]
        x0 = (float(x0[0]), float(x0[1]))
        if not (window.xlim[0] <= x0[0] <= window.xlim[1]
                and window.ylim[0] <= x0[1] <= window.ylim[1]):
            raise ValueError(f"x0 must lie in the surface's window x in {window.xlim}, "
                             f"y in {window.ylim}, got {x0}")
    return Explorer(widgets, surfaces, surface, optimizer, lr, beta1, beta2, x0,
                    int(steps), noise, seed, figsize)
