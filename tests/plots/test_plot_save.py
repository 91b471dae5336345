"""Every figure kind, written in every format, opens as what it claims to be."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from lstui.errors import BadInput
from lstui.plots import (
    FIGURE_FORMATS,
    plot_1d,
    plot_comparison_1d,
    plot_comparison_2d,
    plot_contour,
    plot_filled_contour,
    plot_heatmap,
    plot_sharpness_table,
    plot_surface_3d,
    plot_trajectory,
    save_figure,
)

X = np.linspace(-1, 1, 21)
Y = np.linspace(-0.5, 0.5, 11)
Z = 0.01 + np.add.outer(Y**2, X**2) * 3
Z[2, 3] = np.nan

FIGURES: dict[str, Callable[[], Figure]] = {
    "contour": lambda: plot_contour(X, Y, Z, title="contour"),
    "filled": lambda: plot_filled_contour(X, Y, Z),
    "heatmap": lambda: plot_heatmap(X, Y, Z),
    "surface3d": lambda: plot_surface_3d(X, Y, Z),
    "trajectory": lambda: plot_trajectory(
        X, Y, Z, [0.9, 0.4, 0.0], [0.3, 0.1, 0.0], explained_variance=(0.5, 0.2)
    ),
    "comparison2d": lambda: plot_comparison_2d([("a", X, Y, Z), ("b", X, Y, 2 * Z)]),
    "1d": lambda: plot_1d(X, {"train_loss": Z[5], "train_acc": 100 - Z[5]}, interpolation=True),
    "comparison1d": lambda: plot_comparison_1d([("a", X, Z[5]), ("b", X, Z[6])]),
    "table": lambda: plot_sharpness_table([{"model": "a", "sharpness": 1.5}]),
}


@pytest.fixture(scope="module", params=sorted(FIGURES))
def figure(request) -> tuple[str, Figure]:
    return request.param, FIGURES[request.param]()


def test_png_has_the_figure_size_and_is_not_blank(figure, tmp_path):
    name, fig = figure
    (path,) = save_figure(fig, tmp_path / name, formats=("png",), dpi=72)
    with Image.open(path) as image:
        expected = fig.get_size_inches() * 72  # figsize × dpi, truncated by Agg
        assert np.all(np.abs(np.array(image.size) - expected) < 1.0), (image.size, expected)
        grey = np.asarray(image.convert("L"), dtype=np.float64)
    assert grey.std() > 10.0, "the image looks blank"
    assert (grey < 128).mean() > 0.005, "hardly anything dark is drawn"


def test_pdf_is_a_complete_pdf(figure, tmp_path):
    name, fig = figure
    (path,) = save_figure(fig, tmp_path / name, formats=("pdf",))
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert b"/Type3" not in data  # fonts embedded as TrueType: publishers refuse Type 3


def test_svg_parses_as_svg(figure, tmp_path):
    name, fig = figure
    (path,) = save_figure(fig, tmp_path / name, formats=("svg",))
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 20


def test_save_writes_every_asked_format_next_to_the_stem_and_nothing_else(tmp_path):
    fig = FIGURES["contour"]()
    stem = tmp_path / "out" / "model_300.t7_[-1.0,1.0,51]x[-1.0,1.0,51].h5_train_loss_2dcontour"
    paths = save_figure(fig, stem, formats=FIGURE_FORMATS, dpi=50)
    assert [p.name for p in paths] == [f"{stem.name}.{f}" for f in FIGURE_FORMATS]
    assert sorted(p.name for p in stem.parent.iterdir()) == sorted(p.name for p in paths)


def test_unknown_format_is_refused_before_writing(tmp_path):
    with pytest.raises(BadInput, match="formats are png, pdf, svg"):
        save_figure(FIGURES["contour"](), tmp_path / "x", formats=("png", "jpeg"))
    assert list(Path(tmp_path).iterdir()) == []


def test_a_pdf_saved_by_a_process_logging_at_info_logs_no_font_subsetting(tmp_path):
    """The daemon's workers log at INFO into daemon.log and draw figure jobs as PDF:
    fontTools' subsetter (about 50 INFO lines a PDF) must stay out of it."""
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s %(levelname)s %(message)s')\n"
        "import numpy as np\n"
        "from lstui.plots import plot_contour, save_figure\n"
        "x = np.linspace(-1, 1, 9)\n"
        "fig = plot_contour(x, x, np.add.outer(x**2, x**2), title='α β loss')\n"
        "save_figure(fig, sys.argv[1], formats=('pdf', 'svg'))\n"
        "logging.getLogger('lstui.test').info('saved')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "fig")], capture_output=True, text=True, check=True
    )
    assert (tmp_path / "fig.pdf").read_bytes().startswith(b"%PDF-")
    assert result.stderr.splitlines() == ["lstui.test INFO saved"]  # INFO lines do get through


def test_png_defaults_to_the_references_300_dpi(tmp_path):
    fig = FIGURES["contour"]()
    (path,) = save_figure(fig, tmp_path / "default", formats=("png",))
    with Image.open(path) as image:
        expected = fig.get_size_inches() * 300
        assert np.all(np.abs(np.array(image.size) - expected) < 1.0), (image.size, expected)
