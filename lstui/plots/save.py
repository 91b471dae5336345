"""Writing figures to files: PNG, PDF, SVG."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from matplotlib.figure import Figure

from lstui.errors import BadInput
from lstui.results.h5files import temporary_prefix

FIGURE_FORMATS = ("png", "pdf", "svg")
DEFAULT_DPI = 300
"""Pixels per inch of a PNG (and of the rasterised heatmap inside a PDF or SVG): the
reference's resolution, print quality at single-column width."""

# matplotlib subsets the fonts it embeds in a PDF with fontTools, whose subsetter logs
# some 50 INFO lines per file to "fontTools.subset". Every process that saves figures
# comes here, the daemon's workers too (they draw figure jobs, log at INFO and write to
# daemon.log), so the level is set here once rather than in each main; a level someone
# set on purpose is left alone.
_FONT_SUBSET_LOG = logging.getLogger("fontTools.subset")
if _FONT_SUBSET_LOG.level == logging.NOTSET:
    _FONT_SUBSET_LOG.setLevel(logging.WARNING)

# No creation dates in vector files: the same figure gives the same bytes.
_METADATA: dict[str, dict[str, None]] = {
    "png": {},
    "pdf": {"CreationDate": None, "ModDate": None},
    "svg": {"Date": None},
}


def save_figure(
    fig: Figure,
    stem: Path | str,
    formats: Iterable[str] = ("png", "pdf"),
    dpi: int = DEFAULT_DPI,
) -> list[Path]:
    """Write ``fig`` as ``stem.png``, ``stem.pdf``, ``stem.svg`` (those asked for).

    The file name is ``stem`` plus ``.FORMAT`` (a stem may hold dots, as reference names
    do). Each file is written to a temporary name in the same folder, then renamed, so a
    reader never sees half a figure. The page size is the figure size: a PNG is
    ``figsize × dpi`` pixels. The folder is created when missing.

    Returns:
        The paths written, in the order of ``formats``.

    Raises:
        BadInput: for a format other than png, pdf, svg.
    """
    wanted = [f.lower().lstrip(".") for f in formats]
    unknown = [f for f in wanted if f not in FIGURE_FORMATS]
    if unknown:
        raise BadInput(
            f"cannot write figures as {', '.join(unknown)}; formats are {', '.join(FIGURE_FORMATS)}"
            " (vtp is written from the surface, not from a figure)"
        )
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # private, as every result
    written: list[Path] = []
    for fmt in dict.fromkeys(wanted):
        target = stem.parent / f"{stem.name}.{fmt}"
        handle, tmp_name = tempfile.mkstemp(
            prefix=temporary_prefix(stem.name), suffix=f".{fmt}.tmp", dir=stem.parent
        )
        try:
            with os.fdopen(handle, "wb") as stream:
                fig.savefig(stream, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
            os.replace(tmp_name, target)
        except OSError as exc:
            Path(tmp_name).unlink(missing_ok=True)
            if exc.filename is None:  # a write to the stream (a full disk) names no file: the figure's
                raise type(exc)(exc.errno, exc.strerror, str(target)) from exc
            raise
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
