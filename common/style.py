"""The look of every l1ad figure: mplhep's ROOT style, l1ad's class colours, files saved at 90 dpi.

Figures are matplotlib ``Figure`` objects saved to files, never pyplot figures: plotting changes no backend,
style or other global state of the caller's process (a notebook keeps its inline figures).
"""

from __future__ import annotations

import functools
from pathlib import Path


def styled(plot):
    """Run a plotting function inside mplhep's ROOT style, restoring the caller's style afterwards."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        import matplotlib.style
        import mplhep as hep

        with matplotlib.style.context(hep.style.ROOT):
            return plot(*args, **kwargs)

    return wrapper


def figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """(fig, axes) like pyplot.subplots, without pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=kwargs.pop("figsize", (7, 5)))
    return fig, fig.subplots(nrows, ncols, **kwargs)


COLORS = {"g": "tab:blue", "q": "tab:cyan", "background": "tab:blue", "t": "tab:red", "w": "tab:green",
          "z": "tab:orange"}
STYLES = ["-", "--", ":", "-."]


def save(fig, path: Path, tight: bool = True) -> Path:
    """Save at 90 dpi; ``tight`` crops to the drawn content, at the cost of a second draw of the figure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight" if tight else None)
    return path


def caption(ax, text: str):
    """The title line every l1ad figure carries (what it shows, and that it is l1ad simulation)."""
    ax.set_title(f"l1ad simulation: {text}", loc="left", fontsize="small")
