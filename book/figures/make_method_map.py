"""Draw the map of how the book's methods relate: book/figures/method_map.svg.

Run from anywhere (the output defaults to the SVG next to this script)::

    python book/figures/make_method_map.py [OUTPUT.svg]

Each box is an SVG group with id ``node-<name>`` and each arrow one with id
``edge-<from>--<to>``, so tests and readers of the SVG can check the structure
without parsing drawings. The output is deterministic (fixed hash salt, no date).
"""
from __future__ import annotations

import argparse
import pathlib

OUTPUT = pathlib.Path(__file__).resolve().with_name("method_map.svg")

# family -> (box colour, label in the legend)
FAMILIES = {
    "plain": ("#dbe9f6", "gradient steps"),
    "momentum": ("#fde3c8", "momentum"),
    "adaptive": ("#dcefd9", "per-coordinate step sizes"),
    "adam": ("#e8dff2", "Adam family"),
}

# name -> (x, y, family, who introduced it). Read top to bottom: the gradient
# steps, then the two ideas that fix their weaknesses (momentum on the right,
# per-coordinate step sizes on the left), then Adam, which combines them.
NODES = {
    "GD": (0.0, 4.2, "plain", "Cauchy 1847"),
    "SGD": (3.75, 4.2, "plain", "Robbins & Monro 1951"),
    "Minibatch SGD": (7.5, 4.2, "plain", "b examples per step"),
    "AdaGrad": (0.0, 2.8, "adaptive", "Duchi et al. 2011"),
    "Momentum": (7.5, 2.8, "momentum", "Polyak 1964"),
    "NAG": (11.25, 2.8, "momentum", "Nesterov 1983"),
    "RMSProp": (0.0, 1.4, "adaptive", "Tieleman & Hinton 2012"),
    "Adam": (7.5, 1.4, "adam", "Kingma & Ba 2015"),
    "Adadelta": (0.0, 0.0, "adaptive", "Zeiler 2012"),
    "AMSGrad": (3.75, 0.0, "adam", "Reddi et al. 2018"),
    "AdamW": (7.5, 0.0, "adam", "Loshchilov & Hutter 2019"),
    "Yogi": (11.25, 0.0, "adam", "Zaheer et al. 2018"),
}

# (from, to, what changes)
EDGES = [
    ("GD", "SGD", "one random\nexample"),
    ("SGD", "Minibatch SGD", "average\nb examples"),
    ("Minibatch SGD", "Momentum", "add velocity"),
    ("Momentum", "NAG", "look\nahead"),
    ("AdaGrad", "RMSProp", "forget old gradients"),
    ("RMSProp", "Adadelta", "units of x"),
    ("Momentum", "Adam", "first moment"),
    ("RMSProp", "Adam", "second moment"),
    ("Adam", "AMSGrad", "max of past v"),
    ("Adam", "AdamW", "decoupled decay"),
    ("Adam", "Yogi", "additive v update"),
]

BOX_W, BOX_H = 2.4, 0.8


def _edge_points(start: tuple[float, float], end: tuple[float, float]) -> tuple:
    """Where an arrow between two box centres leaves and enters the boxes."""
    import numpy as np

    a, b = np.asarray(start), np.asarray(end)
    d = b - a
    # scale the direction until it meets the box border (half sizes + a gap)
    half = np.array([BOX_W / 2 + 0.04, BOX_H / 2 + 0.06])
    t = np.min(np.where(np.abs(d) > 1e-12, half / np.maximum(np.abs(d), 1e-12), np.inf))
    return tuple(a + t * d), tuple(b - t * d)


def _label_edge(ax, label: str, p0: tuple, p1: tuple, below_left: bool = False) -> None:
    """Write what changes from one method to the next beside its arrow."""
    style = dict(fontsize=8, style="italic", color="#555555", linespacing=1.1)
    (x0, y0), (x1, y1) = p0, p1
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    if abs(y1 - y0) < 1e-9:       # horizontal: above the arrow
        ax.text(mx, my + 0.08, label, ha="center", va="bottom", **style)
    elif abs(x1 - x0) < 1e-9 and below_left:   # vertical, label on the left
        ax.text(mx - 0.12, my, label, ha="right", va="center", **style)
    elif abs(x1 - x0) < 1e-9:     # vertical: to the right of the arrow
        ax.text(mx + 0.12, my, label, ha="left", va="center", **style)
    elif x1 < x0:                 # down and to the left: above the arrow's far half
        ax.text(mx - 0.1, my + 0.06, label, ha="right", va="bottom", **style)
    else:                         # down and to the right: above the arrow's far half
        ax.text(mx + 0.1, my + 0.06, label, ha="left", va="bottom", **style)


def draw(output: pathlib.Path = OUTPUT) -> pathlib.Path:
    """Draw the method map and save it as SVG at ``output``."""
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - matplotlib is in requirements.txt
        raise ImportError("make_method_map.py needs matplotlib: pip install optlib[plot]") from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    with plt.rc_context({"svg.hashsalt": "optlib-method-map", "font.size": 10,
                         "svg.fonttype": "path"}):
        fig, ax = plt.subplots(figsize=(10, 4.0))
        ax.set_xlim(-1.3, 12.55)
        ax.set_ylim(-0.5, 4.7)
        ax.set_aspect("equal")
        ax.axis("off")

        for name, (x, y, family, origin) in NODES.items():
            box = FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                 boxstyle="round,pad=0.02,rounding_size=0.12",
                                 facecolor=FAMILIES[family][0], edgecolor="#4a4a4a", lw=1.0)
            box.set_gid(f"node-{name.replace(' ', '_')}")
            ax.add_patch(box)
            ax.text(x, y + 0.12, name, ha="center", va="center", fontsize=11, fontweight="bold")
            ax.text(x, y - 0.18, origin, ha="center", va="center", fontsize=7.5, color="#333333")

        for source, target, label in EDGES:
            (x0, y0, *_), (x1, y1, *_) = NODES[source], NODES[target]
            p0, p1 = _edge_points((x0, y0), (x1, y1))
            arrow = FancyArrowPatch(p0, p1, arrowstyle="-|>", mutation_scale=13, lw=1.3,
                                    color="#4a4a4a")
            arrow.set_gid(f"edge-{source.replace(' ', '_')}--{target.replace(' ', '_')}")
            ax.add_patch(arrow)
            if label:
                _label_edge(ax, label, p0, p1, below_left=target == "AdamW")

        handles = [Patch(facecolor=c, edgecolor="#4a4a4a", label=text)
                   for c, text in FAMILIES.values()]
        # the empty top-right corner holds the legend
        ax.legend(handles=handles, loc="center", bbox_to_anchor=(11.25, 4.2),
                  bbox_transform=ax.transData, frameon=False, fontsize=8.5)
        output = pathlib.Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
    return output


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Draw the method map of the book's preface.")
    parser.add_argument("output", nargs="?", type=pathlib.Path, default=OUTPUT,
                        help=f"SVG file to write (default: {OUTPUT})")
    args = parser.parse_args(argv)
    if args.output.suffix.lower() != ".svg":
        parser.error(f"output {args.output} must end in .svg")
    print(f"wrote {draw(args.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
