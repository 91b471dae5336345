"""Figures and terminal previews of loss landscapes, drawn from numpy arrays.

2D arrays ``Z`` have shape ``(ny, nx)``: ``Z[i, j]`` is the value at ``x[j]``, ``y[i]``
(the layout of ``numpy.meshgrid(x, y)``). NaN and ±inf points (not computed yet, or
diverged) are drawn as gaps, never stretch a colour scale, and are counted on the figure;
a ``pending`` mask, where given, says which are not computed yet, and they are counted apart.

Figures are :class:`matplotlib.figure.Figure` objects on an Agg canvas, never pyplot, so
they can be drawn from any thread; :func:`save_figure` writes them as PNG, PDF or SVG.

The names below are imported on first use, so ``from lstui.plots import quantise`` (for a
TUI preview) does not load matplotlib or plotext.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lstui.plots.curves import CURVE_NAMES, plot_1d, plot_comparison_1d
    from lstui.plots.levels import bad_note, contour_levels, count_bad, quantise, robust_range
    from lstui.plots.save import FIGURE_FORMATS, save_figure
    from lstui.plots.surfaces import (
        pc_axis_labels,
        plot_comparison_2d,
        plot_contour,
        plot_filled_contour,
        plot_heatmap,
        plot_surface_3d,
        plot_trajectory,
    )
    from lstui.plots.table import plot_sharpness_table
    from lstui.plots.terminal import terminal_heatmap, terminal_lines
    from lstui.plots.vtp import write_vtp

_HOME = {
    "CURVE_NAMES": "curves",
    "plot_1d": "curves",
    "plot_comparison_1d": "curves",
    "bad_note": "levels",
    "contour_levels": "levels",
    "count_bad": "levels",
    "quantise": "levels",
    "robust_range": "levels",
    "FIGURE_FORMATS": "save",
    "save_figure": "save",
    "pc_axis_labels": "surfaces",
    "plot_comparison_2d": "surfaces",
    "plot_contour": "surfaces",
    "plot_filled_contour": "surfaces",
    "plot_heatmap": "surfaces",
    "plot_surface_3d": "surfaces",
    "plot_trajectory": "surfaces",
    "plot_sharpness_table": "table",
    "terminal_heatmap": "terminal",
    "terminal_lines": "terminal",
    "write_vtp": "vtp",
}

__all__ = [
    "CURVE_NAMES",
    "FIGURE_FORMATS",
    "bad_note",
    "contour_levels",
    "count_bad",
    "pc_axis_labels",
    "plot_1d",
    "plot_comparison_1d",
    "plot_comparison_2d",
    "plot_contour",
    "plot_filled_contour",
    "plot_heatmap",
    "plot_sharpness_table",
    "plot_surface_3d",
    "plot_trajectory",
    "quantise",
    "robust_range",
    "save_figure",
    "terminal_heatmap",
    "terminal_lines",
    "write_vtp",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'lstui.plots' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lstui.plots.{module}"), name)
