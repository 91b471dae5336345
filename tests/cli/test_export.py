"""`lstui export FILE.h5` on a reference-layout surface file, every format."""

import xml.etree.ElementTree as ET

import h5py
import numpy as np
from PIL import Image

from tests.cli.conftest import run_lstui


def _reference_surface(path, nx=7, ny=5):
    xs, ys = np.linspace(-1, 1, nx), np.linspace(-1, 1, ny)
    xx, yy = np.meshgrid(xs, ys)
    loss = 0.1 + xx**2 + 2 * yy**2
    loss[0, 0] = np.nan  # a diverged point
    with h5py.File(path, "w") as f:
        f["dir_file"] = "model_300.t7_weights_xignore=biasbn_xnorm=filter.h5"
        f["xcoordinates"] = xs
        f["ycoordinates"] = ys
        f["train_loss"] = loss.ravel().reshape(nx, ny)  # the reference's (nx, ny) allocation
        f["train_acc"] = np.full((nx, ny), 50.0)
    return loss


def test_export_reference_file_in_every_format(tmp_path):
    src = tmp_path / "model_300.t7_weights.h5_[-1.0,1.0,7]x[-1.0,1.0,5].h5"
    _reference_surface(src)
    out = tmp_path / "figs"
    result = run_lstui("export", str(src), "--format", "png,pdf,svg,vtp", "--out", str(out), "--dpi", "100")
    assert result.returncode == 0, result.stderr
    written = [p for p in result.stdout.split("\n") if p]
    suffixes = sorted({p.rsplit(".", 1)[1] for p in written})
    assert suffixes == ["pdf", "png", "svg", "vtp"]
    for path in (out / p.split("/")[-1] for p in written):
        assert path.exists()
        if path.suffix == ".png":
            pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
            assert pixels.std() > 5
        elif path.suffix == ".pdf":
            assert path.read_bytes().startswith(b"%PDF")
        elif path.suffix == ".svg":
            ET.parse(path)
        else:
            piece = ET.parse(path).getroot().find(".//Piece")
            assert piece is not None and int(piece.get("NumberOfPoints")) == 7 * 5


def test_export_bad_format_and_missing_file(tmp_path):
    src = tmp_path / "s.h5"
    _reference_surface(src)
    bad = run_lstui("export", str(src), "--format", "gif")
    assert bad.returncode == 2 and "choose from png, pdf, svg, vtp" in bad.stderr
    missing = run_lstui("export", str(tmp_path / "nope.h5"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr + bad.stderr
