"""The look of every l1ad figure: mplhep's ROOT style, l1ad's class colours, files saved at 90 dpi.

Figures are matplotlib ``Figure`` objects saved to files, never pyplot figures: plotting changes no backend,
style or other global state of the caller's process (a notebook keeps its inline figures).
"""

from __future__ import annotations

import functools
import os
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
    """Save at 90 dpi; ``tight`` crops to the drawn content, at the cost of a second draw of the figure.

    With ``L1AD_STRICT_FIGURES=1`` (the test suite) a figure with a panel that shows no data is refused, naming it."""
    if os.environ.get("L1AD_STRICT_FIGURES") == "1":
        empty = empty_axes(fig)
        if empty:
            raise ValueError(f"{path.name}: panels without visible data: {empty}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight" if tight else None)
    return path


def caption(ax, text: str):
    """The title line every l1ad figure carries (what it shows, and that it is l1ad simulation)."""
    ax.set_title(f"l1ad simulation: {text}", loc="left", fontsize="small")


def empty_axes(fig) -> list[str]:
    """The panels of ``fig`` (drawn axes: not those switched off, as legend holders are) that show no data inside
    their limits: no line point, bar or area of non-zero size, marker or image. Reference lines (axhline, axvline)
    and text do not count."""
    return [ax.get_title(loc="left") or ax.get_title() or ax.get_ylabel() or f"panel {i}"
            for i, ax in enumerate(fig.axes) if ax.get_visible() and ax.axison and not _shows_data(ax)]


def _shows_data(ax) -> bool:
    import numpy as np

    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())

    def inside(xy) -> bool:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        ok = np.isfinite(xy).all(axis=1) & (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        return bool(ok.any())

    def has_area(xy) -> bool:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        return bool(np.isfinite(xy).all() and abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) > 0)

    if ax.images:
        return True
    for line in ax.lines:
        if line.get_visible() and line.get_transform() is ax.transData and inside(line.get_xydata()):
            return True
    for patch in ax.patches:  # histogram bars and steps
        if patch.get_visible():
            xy = patch.get_path().transformed(patch.get_patch_transform()).vertices
            if inside(xy) and (has_area(xy) or not patch.get_fill()):  # an unfilled step outline counts as drawn
                return True
    for collection in ax.collections:  # markers, filled bands, error bars
        if not collection.get_visible():
            continue
        if len(collection.get_offsets()) and inside(collection.get_offsets()):
            return True
        if any(inside(path.vertices) for path in collection.get_paths()):
            return True
    return False
