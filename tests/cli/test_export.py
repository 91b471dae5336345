"""`lstui export FILE.h5` on a reference-layout surface file, every format; the export of
not finished jobs."""

import os
import xml.etree.ElementTree as ET

import h5py
import matplotlib
import numpy as np
import pytest
from PIL import Image

from lstui.errors import BadInput
from lstui.landscape.grid import parse_axis
from lstui.scheduler.exporting import export_job
from lstui.spec import JobSpec
from lstui.store import PointRow, Store
from lstui.views import terminal_plot
from tests.cli.conftest import run_lstui


def _reference_surface(path, nx=7, ny=5, diverged=True):
    xs, ys = np.linspace(-1, 1, nx), np.linspace(-1, 1, ny)
    xx, yy = np.meshgrid(xs, ys)
    loss = 0.1 + xx**2 + 2 * yy**2
    if diverged:
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
    # drawn, and said as `lstui run` says it: one line, exit 3 (was 0, silent)
    assert result.returncode == 3, result.stderr
    assert result.stderr == ("warning: 1 of 35 points has NaN or infinite loss (diverged); "
                             "they are drawn as gaps\n")
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


def test_exporting_a_direction_pca_or_projection_file_says_which_it_is(tmp_path):
    """Each said "has no 'xcoordinates'", as for any HDF5 file."""
    from lstui.scheduler.exporting import export_surface

    files = {"directions.h5": {"xdirection/0": np.zeros(3)},
             "pca_directions.h5": {"xdirection/0": np.zeros(3), "explained_variance_ratio_": np.ones(2)},
             "projection.h5": {"proj_xcoord": np.zeros(4), "proj_ycoord": np.zeros(4)}}
    said = {}
    for name, datasets in files.items():
        with h5py.File(tmp_path / name, "w") as f:
            for key, value in datasets.items():
                f[key] = value
        with pytest.raises(BadInput) as caught:
            export_surface(tmp_path / name, tmp_path / "figs")
        said[name] = str(caught.value).partition("has no 'xcoordinates': ")[2]
    assert said == {
        "directions.h5": "it is a direction file; export the surface file computed along it (surface.h5)",
        "pca_directions.h5": "it is a trajectory's PCA directions; export the trajectory job, or compute a "
                             "surface on them with --dir-file",
        "projection.h5": "it is a trajectory's projection (proj_xcoord); draw it on its surface: lstui export "
                         "SURF_FILE --proj-file FILE --dir-file ITS_PCA_DIR_FILE"}
    assert not (tmp_path / "figs").exists()


def _surface_1d(path):
    xs = np.linspace(-1, 1, 9)
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = xs
        f["train_loss"] = 0.1 + xs**2
        f["train_acc"] = 90 - xs**2


def test_vtp_of_a_1d_surface_is_skipped_with_one_line_or_refused_when_alone(tmp_path):
    src = tmp_path / "line.h5"
    _surface_1d(src)
    out = tmp_path / "figs"
    both = run_lstui("export", str(src), "--format", "png,vtp", "--out", str(out))
    assert both.returncode == 0, both.stderr
    assert [p.split("/")[-1] for p in both.stdout.split()] == ["line_1d.png"]
    assert both.stderr.strip().splitlines() == [
        "no vtp written: vtp needs a 2D surface (--x and --y) and this one is 1D"
    ]
    alone = run_lstui("export", str(src), "--format", "vtp", "--out", str(tmp_path / "none"))
    assert alone.returncode == 2
    assert alone.stderr.strip().splitlines() == [
        "lstui: error: --format vtp: vtp needs a 2D surface (--x and --y) and this one is 1D; "
        "export its curves as png, pdf or svg"
    ]
    assert not (tmp_path / "none").exists()


def _partial_job(store, home, spec, done):
    """A job of ``spec`` paused after its first ``done`` points (coarse first); the last
    of them diverged (a NULL loss in the store)."""
    order = spec.grid.coarse_to_fine()
    n = spec.grid.num_points
    job_id = store.add_job(kind=spec.kind, name=spec.name, spec=spec.to_dict(), total_points=n,
                           units=[order[:done], order[done:]], results_root=home / "results")
    worker = store.register_worker("cpu", os.getpid(), "test")
    claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
    rows = [PointRow(i, 0.5 + 0.01 * i, 50.0) for i in claim.todo[:-1]] + [PointRow(claim.todo[-1])]
    store.write_points(claim.unit_id, worker, rows)
    store.release_unit(claim.unit_id, worker)
    store.pause(job_id)
    return store.get_job(job_id)


def test_a_paused_job_names_its_points_not_computed_yet_apart_from_diverged_ones(tmp_path):
    home = tmp_path / "home"
    spec = JobSpec(x=parse_axis("-1:1:9"), y=parse_axis("-1:1:9"), name="paused")
    with Store.open_home(home) as store:
        job = _partial_job(store, home, spec, done=20)
        shown = terminal_plot(store, job, width=80, height=20, color=False)
        assert shown.split("\n")[-1].endswith("61 points not computed, 1 NaN/inf (blank)")
        with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, to read it
            paths = export_job(store, job, formats=("svg",), out=tmp_path / "figs")
    assert len(paths) == 4
    for path in paths:
        text = " ".join(t.text or "" for t in ET.parse(path).getroot().iter() if t.tag.endswith("text"))
        assert "partial: 20 of 81 points," in text and "1 NaN/inf (not shown)" in text, path.name
    # and `lstui export` says it, where only the figures' legends did
    result = run_lstui("export", str(job.id), "--format", "png", "--out", str(tmp_path / "cli"), home=home)
    assert result.returncode == 3, result.stderr  # one point diverged
    assert ("note: partial: 20 of 81 points are computed; the figures show those "
            "(export again when the job is done)") in result.stderr


def test_vtp_of_a_1d_job_is_skipped_with_a_line_in_its_log(tmp_path):
    home = tmp_path / "home"
    spec = JobSpec(x=parse_axis("-1:1:9"), name="line")
    with Store.open_home(home) as store:
        job = _partial_job(store, home, spec, done=5)
        paths = export_job(store, job, formats=("png", "vtp"))
        assert [p.suffix for p in paths] == [".png"]
        warnings = [e.message for e in store.events(job.id) if e.level == "warning"]
    assert warnings == ["no vtp written: vtp needs a 2D surface (--x and --y) and this one is 1D"]


def _svg_text(path):
    return " ".join(t.text or "" for t in ET.parse(path).getroot().iter() if t.tag.endswith("text"))


def _lstui_surface(path, spec, xs, ys, loss):
    import json

    from lstui.results import SurfaceFile, write_surface

    arrays = {"train_loss": loss}
    write_surface(path, SurfaceFile(xs, ys, arrays, attrs={"lstui_spec": json.dumps(spec)}))


def test_an_interpolation_names_its_ends_after_the_checkpoints(tmp_path):
    from lstui.scheduler.exporting import export_surface

    spec = JobSpec(x=parse_axis("-0.5:1.5:9"), name="interp").to_dict()
    spec.update(kind="interp", checkpoint="runs/small/model_4.pt", checkpoint_b="runs/large/model_12.pt")
    xs = np.linspace(-0.5, 1.5, 9)
    _lstui_surface(tmp_path / "s.h5", spec, xs, None, 0.1 + (xs - 0.2) ** 2)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        (path,) = export_surface(tmp_path / "s.h5", tmp_path / "figs", formats=("svg",))
    text = _svg_text(path)
    assert "model_4" in text and "model_12" in text
    assert " A " not in f" {text} " and " B " not in f" {text} "


def test_a_run_s_surface_exported_keeps_the_title_run_gave_its_figure(tmp_path):
    """`lstui run --out o` titles its PNG "surface cnn model_4 -1:1:21"; `lstui export
    o/surface.h5` wrote it again, and the PDF, untitled (a run's spec has no name)."""
    from lstui.scheduler.exporting import export_surface

    spec = JobSpec(x=parse_axis("-1:1:9"), model="cnn", checkpoint="ck/model_4.pt").to_dict()
    xs = np.linspace(-1, 1, 9)
    _lstui_surface(tmp_path / "s.h5", spec, xs, None, 0.1 + xs**2)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        (path,) = export_surface(tmp_path / "s.h5", tmp_path / "figs", formats=("svg",))
    assert "surface cnn model_4 -1:1:9" in _svg_text(path)


def test_a_1d_export_takes_a_log_axis_when_the_loss_spans_decades_and_keeps_an_explicit_choice(
    tmp_path, monkeypatch
):
    from matplotlib.figure import Figure

    from lstui.scheduler.exporting import export_surface

    xs = np.linspace(-1, 1, 9)
    _lstui_surface(tmp_path / "s.h5", {}, xs, None, 0.007 + 90 * xs**2)
    scales = []
    original = Figure.savefig

    def record(fig, *args, **kwargs):
        scales.append(fig.axes[0].get_yscale())
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    for log in (None, False, True):
        export_surface(tmp_path / "s.h5", tmp_path / "figs", formats=("png",), log=log, dpi=50)
    assert scales == ["log", "linear", "log"]


def test_a_trajectorys_surface_figures_read_the_explained_variance_on_their_axes(tmp_path):
    from lstui.results import write_directions
    from lstui.scheduler.exporting import export_file

    directions = tmp_path / "pca_directions.h5"
    write_directions(directions, [np.ones(3)], [np.ones(3)],
                     extra={"explained_variance_ratio_": np.array([0.9115, 0.0599])})
    spec = JobSpec(x=parse_axis("-1:1:5"), y=parse_axis("-1:1:5"), name="path").to_dict()
    spec.update(kind="trajectory", norm="none", dir_file=str(directions), checkpoint="m_2.pt",
                checkpoints=["m_0.pt", "m_1.pt", "m_2.pt"])
    xs = np.linspace(-1, 1, 5)
    xx, yy = np.meshgrid(xs, xs)
    _lstui_surface(tmp_path / "surface.h5", spec, xs, xs, 0.1 + xx**2 + yy**2)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        paths = export_file(tmp_path / "surface.h5", tmp_path / "figs", formats=("svg",))
    assert len(paths) == 4  # contour, filled, heatmap, 3D (no projection file: no path figure)
    for path in paths:
        text = _svg_text(path)
        assert "1st PC: 91.15 %" in text and "2nd PC: 5.99 %" in text, path.name
        assert "α" not in text and "β" not in text, path.name


def test_a_trajectorys_path_figure_takes_the_levels_and_surf_name_its_contour_figures_take(tmp_path, monkeypatch):
    """The path figure, the one a paper shows, drew its own automatic levels of the train
    loss whatever --vmin/--vmax/--vlevel/--surf-name said, and did not say what it showed."""
    import json

    from matplotlib.figure import Figure

    from lstui.results import SurfaceFile, write_directions, write_projection, write_surface
    from lstui.scheduler.exporting import export_file

    directions = tmp_path / "pca_directions.h5"
    write_directions(directions, [np.ones(3)], [np.ones(3)],
                     extra={"explained_variance_ratio_": np.array([0.9115, 0.0599])})
    write_projection(tmp_path / "projection.h5", np.array([0.8, 0.3, 0.0]), np.array([-0.5, 0.2, 0.0]))
    spec = JobSpec(x=parse_axis("-1:1:5"), y=parse_axis("-1:1:5"), name="path").to_dict()
    spec.update(kind="trajectory", norm="none", dir_file=str(directions), checkpoint="m_2.pt",
                checkpoints=["m_0.pt", "m_1.pt", "m_2.pt"])
    xs = np.linspace(-1, 1, 5)
    xx, yy = np.meshgrid(xs, xs)
    arrays = {"train_loss": 0.1 + xx**2 + yy**2, "train_acc": 90.0 - 10 * (xx**2 + yy**2)}
    write_surface(tmp_path / "surface.h5", SurfaceFile(xs, xs, arrays, attrs={"lstui_spec": json.dumps(spec)}))
    levels: list[list[float]] = []  # of each figure saved: contour, filled, heat, 3D, path

    def record(fig, *args, **kwargs):
        found = [c for c in fig.axes[0].collections if hasattr(c, "levels")]
        levels.append([round(float(v), 6) for v in found[0].levels] if found else [])
        return original(fig, *args, **kwargs)

    original = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", record)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        paths = export_file(tmp_path / "surface.h5", tmp_path / "figs", formats=("svg",),
                            vmin=0.5, vmax=1.5, vlevel=0.25)
        assert [p.name for p in paths][::4] == ["surface_train_loss_2dcontour.svg", "trajectory.svg"]
        assert levels[0] == levels[-1] == [0.5, 0.75, 1.0, 1.25]
        assert "path — train loss" in _svg_text(tmp_path / "figs" / "trajectory.svg")
        levels.clear()
        paths = export_file(tmp_path / "surface.h5", tmp_path / "errs", formats=("svg",), surf_names=["train_err"])
        assert [p.name for p in paths][::4] == ["surface_train_err_2dcontour.svg", "trajectory.svg"]
        assert "path — train error (%)" in _svg_text(tmp_path / "errs" / "trajectory.svg")
        assert levels[0] == levels[-1] and levels[0][0] >= 10  # errors (%), not losses


def test_an_lstui_plane_given_as_dir_file_finds_its_projection_beside_it(tmp_path):
    """``export SURF --dir-file …/pca_directions.h5`` refused lstui's own plane: it looked
    for the reference's ``_proj_cos.h5`` only, not the ``projection.h5`` beside it."""
    from lstui.results import write_directions, write_projection
    from lstui.scheduler.exporting import export_file

    plane = tmp_path / "plane"
    plane.mkdir()
    write_directions(plane / "pca_directions.h5", [np.ones(3)], [np.ones(3)],
                     extra={"explained_variance_ratio_": np.array([0.9115, 0.0599])})
    write_projection(plane / "projection.h5", np.array([0.8, 0.3, 0.0]), np.array([-0.5, 0.2, 0.0]))
    xs = np.linspace(-1, 1, 5)
    xx, yy = np.meshgrid(xs, xs)
    spec = JobSpec(x=parse_axis("-1:1:5"), y=parse_axis("-1:1:5"), name="path").to_dict()
    _lstui_surface(tmp_path / "surface.h5", spec, xs, xs, 0.1 + xx**2 + yy**2)
    paths = export_file(tmp_path / "surface.h5", tmp_path / "figs", formats=("png",),
                        dir_file=plane / "pca_directions.h5")
    assert paths[-1].name == "surface_trajectory.png"
    (plane / "projection.h5").unlink()
    result = run_lstui("export", str(tmp_path / "surface.h5"), "--dir-file", str(plane / "pca_directions.h5"),
                       "--out", str(tmp_path / "none"))
    assert result.returncode == 2 and "or lstui's projection.h5 beside its pca_directions.h5" in result.stderr


def test_a_plane_of_given_directions_given_as_dir_file_is_drawn_with_alpha_and_beta(tmp_path):
    """``export SURF --dir-file`` of a trajectory's plane copied from a --dir-file read
    "1st PC", "2nd PC" on its path figure; the job's own export reads α, β."""
    from lstui.results import write_directions, write_projection
    from lstui.scheduler.exporting import export_file

    plane = tmp_path / "plane"
    plane.mkdir()
    write_directions(plane / "pca_directions.h5", [np.ones(3)], [np.ones(3)],
                     extra={"directions_from": np.array(b"/runs/a/pca_directions.h5")})
    write_projection(plane / "projection.h5", np.array([0.8, 0.3, 0.0]), np.array([-0.5, 0.2, 0.0]))
    xs = np.linspace(-1, 1, 5)
    xx, yy = np.meshgrid(xs, xs)
    spec = JobSpec(x=parse_axis("-1:1:5"), y=parse_axis("-1:1:5"), name="path").to_dict()
    _lstui_surface(tmp_path / "surface.h5", spec, xs, xs, 0.1 + xx**2 + yy**2)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        paths = export_file(tmp_path / "surface.h5", tmp_path / "figs", formats=("svg",),
                            dir_file=plane / "pca_directions.h5")
    for path in paths:
        text = _svg_text(path)
        assert "α" in text and "β" in text and "PC" not in text, path.name


def test_comparison_figures_name_the_split_they_show():
    from lstui.scheduler.compare import _value_label

    assert _value_label(["train_loss", "train_loss"]) == "train loss"
    assert _value_label(["test_loss"]) == "test loss"
    assert _value_label(["train_loss", "test_loss"]) == "loss"


def test_export_refuses_levels_and_clips_that_would_draw_nothing_or_everything(tmp_path):
    """A tiny --vlevel asked numpy for 30 GiB of levels; --zmax -1 (the reference's
    "no clip") flattened every point to -1; both gave no clear line."""
    src = tmp_path / "s.h5"
    _reference_surface(src)
    result = run_lstui("export", str(src), "--format", "png", "--vlevel", "1e-9", "--out", str(tmp_path / "a"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "at most 1000 contours" in result.stderr
    for zmax in ("-1", "0", "nan"):
        result = run_lstui("export", str(src), "--format", "vtp", "--zmax", zmax, "--out", str(tmp_path / "b"))
        assert result.returncode == 2 and "--zmax must be a positive loss" in result.stderr, zmax
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_the_vtp_of_a_surface_with_no_finite_point_is_skipped_with_a_line(tmp_path):
    src = tmp_path / "s.h5"
    with h5py.File(src, "w") as f:
        f["xcoordinates"] = np.linspace(-1, 1, 3)
        f["ycoordinates"] = np.linspace(-1, 1, 3)
        f["train_loss"] = np.full((3, 3), -1.0)  # set up, nothing computed yet
    result = run_lstui("export", str(src), "--format", "png,vtp", "--out", str(tmp_path / "o"))
    assert "Traceback" not in result.stderr
    assert "vtp not written: no point of the surface is finite" in result.stderr
    assert not list((tmp_path / "o").glob("*.vtp"))


def test_a_clipped_or_log_vtp_is_named_so_and_leaves_the_plain_one_alone(tmp_path):
    """`export --format vtp --log --zmax 5` overwrote the daemon's plain VTP under the
    same name; the reference names it ..._zmax=5.0_log.vtp."""
    src = tmp_path / "s.h5"
    _reference_surface(src, diverged=False)
    out = tmp_path / "o"
    assert run_lstui("export", str(src), "--format", "vtp", "--out", str(out)).returncode == 0
    result = run_lstui("export", str(src), "--format", "vtp", "--log", "--zmax", "5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.vtp")) == ["s_train_loss.vtp", "s_train_loss_zmax=5_log.vtp"]


def test_error_surfaces_are_drawn_on_request_as_the_reference_s_surf_name(tmp_path):
    src = tmp_path / "s.h5"
    _reference_surface(src, diverged=False)  # train_acc 50 % everywhere: an error of 50 %
    out = tmp_path / "o"
    result = run_lstui("export", str(src), "--format", "png", "--surf-name", "train_err", "--out", str(out),
                       "--dpi", "60")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.png")) == [
        f"s_train_err_{kind}.png" for kind in ("2dcontour", "2dcontourf", "2dheat", "3dsurface")]
    for bad, says in (("test_err", "holds no test_acc, from which test_err is drawn"), ("train_acc", "choose from train_loss, test_loss")):
        fresh = tmp_path / bad
        result = run_lstui("export", str(src), "--format", "png", "--surf-name", f"train_loss,{bad}",
                           "--out", str(fresh))
        assert result.returncode == 2 and says in result.stderr, result.stderr
        assert not list(fresh.glob("*.png"))  # refused before the first figure
    # one set of bounds over a loss and an error left the error one colour, without a word
    both = run_lstui("export", str(src), "--format", "png", "--surf-name", "train_loss,train_err", "--vmin", "0.1",
                     "--vmax", "10", "--out", str(tmp_path / "both"), "--dpi", "60")
    assert both.returncode == 0, both.stderr
    assert ("note: --vmin, --vmax apply to each of train_loss, train_err; export them one at a time for bounds "
            "of their own") in both.stderr


def test_exporting_a_job_that_failed_before_its_first_point_says_it_failed(tmp_path):
    """It said "no computed points yet", as if waiting would help."""
    from tests.store.support import add_job

    home = tmp_path / "home"
    with Store.open_home(home) as store:
        failed = add_job(store, tmp_path, points=3)
        store.fail_job(failed, "ModelError: the checkpoint does not fit")
        queued = add_job(store, tmp_path, points=3, name="waits")
    out = run_lstui("export", str(failed), home=home)
    assert out.returncode == 2
    assert out.stderr.strip() == (f"lstui: error: job {failed} failed before its first point: "
                                  "ModelError: the checkpoint does not fit; nothing to draw")
    out = run_lstui("export", str(queued), home=home)
    assert out.returncode == 2 and "has no computed points yet; nothing to draw" in out.stderr


def test_a_job_exported_while_another_process_locks_the_store_keeps_its_figures(tmp_path, caplog):
    """The figures were written, then the job's log could not be: `lstui export` said it
    failed and that nothing was changed, with the files in the folder."""
    import sqlite3

    from lstui.scheduler.submit import submit_spec
    from tests.store.support import finish_job

    home = tmp_path / "home"
    with Store.open_home(home) as store:
        job_id = submit_spec(store, JobSpec(model="mlp", data="digits", x=parse_axis("-1:1:3")).validated())
        finish_job(store, store.register_worker("cpu", 1, "h"), job_id)
    lock = sqlite3.connect(home / "lstui.db", isolation_level=None)
    with Store.open_home(home, timeout_s=0.2) as store:
        job = store.get_job(job_id)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            written = export_job(store, job, formats=("png", "svg"), out=tmp_path / "figs", dpi=50)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert [p.suffix for p in written] == [".png", ".svg"] and all(p.is_file() for p in written)
        assert caplog.text.count("the files are written, but not recorded in its log") == 1
        assert not [e for e in store.events(job_id) if e.message.startswith("wrote ")]


def test_a_file_of_accuracies_alone_draws_their_errors_not_nothing(tmp_path):
    """A surface file holding train_acc and no loss: export exited 0, silent, no file."""
    src = tmp_path / "acc.h5"
    _reference_surface(src, diverged=False)
    with h5py.File(src, "r+") as f:
        del f["train_loss"]
    result = run_lstui("export", str(src), "--format", "png", "--out", str(tmp_path / "o"), "--dpi", "40")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "o").glob("*.png")) == [
        f"acc_train_err_{kind}.png" for kind in ("2dcontour", "2dcontourf", "2dheat", "3dsurface")]


def test_export_of_a_surface_with_no_point_computed_says_so_and_fails(tmp_path):
    """It drew figures saying "nothing to show" and exited 0, silent."""
    src = tmp_path / "s.h5"
    _reference_surface(src, diverged=False)
    with h5py.File(src, "r+") as f:
        f["train_loss"][...] = -1  # the reference's mark of a point not computed
    result = run_lstui("export", str(src), "--format", "png", "--out", str(tmp_path / "o"), "--dpi", "40")
    assert result.returncode == 1
    assert result.stderr == f"warning: no point of {src} is computed: its figures show none\n"


def test_a_refused_export_leaves_no_empty_folder(tmp_path):
    src = tmp_path / "s.h5"
    _reference_surface(src, diverged=False)
    for n, options in enumerate((["--vmin", "5", "--vmax", "1"], ["--vlevel", "0"], ["--surf-name", "bogus"],
                                 ["--surf-name", "test_loss"])):
        out = tmp_path / f"figs{n}"
        result = run_lstui("export", str(src), "--out", str(out), *options)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert not out.exists(), options
    out = tmp_path / "made" / "here"
    assert run_lstui("export", str(src), "--out", str(out), "--format", "png", "--dpi", "40").returncode == 0
    assert oct(out.stat().st_mode & 0o777) == "0o700"


def _reference_trajectory(root, method="cos"):
    """A reference PCA run's files as its scripts lay them out: the PCA directions under
    ``PCA_…/directions.h5``, the projected path beside them (``directions.h5_proj_cos.h5``)
    and the surface computed on them, whose ``dir_file`` names the directions as given
    on the reference's command line (relative to where it ran)."""
    import torch

    from lstui.results import write_directions

    folder = root / "run" / "PCA_weights_ignore=biasbn_save_epoch=1"
    folder.mkdir(parents=True)
    directions = folder / "directions.h5"
    write_directions(directions, [torch.ones(3)], [torch.ones(3)],
                     extra={"explained_variance_ratio_": np.array([0.912, 0.0415])})
    path_x, path_y = np.array([-0.8, -0.5, -0.2, 0.0]), np.array([0.4, 0.3, 0.1, 0.0])
    with h5py.File(f"{directions}_proj_{method}.h5", "w") as f:
        f["proj_xcoord"], f["proj_ycoord"] = path_x, path_y
    xs = np.linspace(-1, 1, 7)
    xx, yy = np.meshgrid(xs, xs)
    surface = folder / "directions.h5_[-1.0,1.0,7]x[-1.0,1.0,7].h5"
    with h5py.File(surface, "w") as f:
        f["dir_file"] = "run/PCA_weights_ignore=biasbn_save_epoch=1/directions.h5"
        f["xcoordinates"], f["ycoordinates"] = xs, xs
        f["train_loss"] = (0.1 + xx**2 + yy**2).ravel().reshape(7, 7)
    return surface, directions, (path_x, path_y)


def test_a_reference_trajectory_is_drawn_from_the_projection_beside_its_directions(
    tmp_path, monkeypatch
):
    from lstui import plots
    from lstui.scheduler.exporting import export_file

    drawn = []
    original = plots.plot_trajectory

    def record(x, y, Z, px, py, **kwargs):
        drawn.append((px, py, kwargs["explained_variance"]))
        return original(x, y, Z, px, py, **kwargs)

    monkeypatch.setattr(plots, "plot_trajectory", record)
    for method in ("cos", "lstsq"):  # found from the surface file alone, from elsewhere
        surface, _, (px, py) = _reference_trajectory(tmp_path / method, method)
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            paths = export_file(surface, tmp_path / method / "figs", formats=("svg",))
        assert [p.name for p in paths][-1] == f"{surface.stem}_trajectory.svg"
        assert len(paths) == 5
        for path in paths:
            assert "1st PC: 91.20 %" in _svg_text(path) and "2nd PC: 4.15 %" in _svg_text(path)
        assert np.array_equal(drawn[-1][0], px) and np.array_equal(drawn[-1][1], py)
        assert drawn[-1][2] == (0.912, 0.0415)


def test_a_reference_trajectory_is_drawn_as_plot_2d_is_told_it_and_bad_files_are_one_line(tmp_path):
    surface, directions, _ = _reference_trajectory(tmp_path)
    proj = tmp_path / "elsewhere.h5"
    os.rename(f"{directions}_proj_cos.h5", proj)
    out = tmp_path / "figs"
    plain = run_lstui("export", str(surface), "--format", "png", "--out", str(out), "--dpi", "50")
    assert plain.returncode == 0, plain.stderr
    # no projection beside the directions: no path drawn
    assert not [line for line in plain.stdout.split() if line.endswith("_trajectory.png")]
    told = run_lstui("export", str(surface), "--format", "png", "--out", str(out), "--dpi", "50",
                     "--proj-file", str(proj), "--dir-file", str(directions))
    assert told.returncode == 0, told.stderr
    (figure,) = [line for line in told.stdout.split() if line.endswith("_trajectory.png")]
    assert np.asarray(Image.open(figure).convert("L"), dtype=float).std() > 5
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    for argv, says in [
        (("--proj-file", str(tmp_path / "nope.h5")), "--proj-file " + str(tmp_path / "nope.h5") + ": no such file"),
        (("--proj-file", str(tmp_path / "empty.h5")), "has no 'proj_xcoord' or 'proj_ycoord'"),
    ]:
        bad = run_lstui("export", str(surface), "--out", str(tmp_path / "bad"), *argv)
        assert bad.returncode == 2 and says in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad").exists()
    alone = run_lstui("export", str(surface), "--dir-file", str(directions), "--out", str(tmp_path / "bad"))
    assert alone.returncode == 2 and "no projected path beside it" in alone.stderr, alone.stderr
    line = tmp_path / "line.h5"
    _surface_1d(line)
    flat = run_lstui("export", str(line), "--proj-file", str(proj))
    assert flat.returncode == 2 and "is 1D" in flat.stderr
    job = run_lstui("export", "3", "--proj-file", str(proj))
    assert job.returncode == 2 and "--proj-file is for a surface file" in job.stderr


def test_a_surface_file_whose_coordinates_are_all_equal_is_refused_in_one_line(tmp_path):
    """Every x 0.0: export drew a figure of nothing under matplotlib's warnings, exit 0."""
    path = tmp_path / "dupx.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = np.zeros(5)
        f["ycoordinates"] = np.linspace(-1, 1, 5)
        f["train_loss"] = np.ones((5, 5))
    result = run_lstui("export", str(path), "--format", "png", home=tmp_path / "home")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"lstui: error: surface file {str(path)!r}: its xcoordinates (0 … 0) are not a grid's: "
        "they repeat a value or turn back"]
    assert list(tmp_path.glob("*.png")) == []


def test_a_name_the_figures_font_lacks_is_one_warning_line(tmp_path):
    """A CJK --name printed 8 multi-line matplotlib UserWarnings, one a glyph."""
    out = tmp_path / "out"
    result = run_lstui("run", "surface", "--model", "mlp", "--subset", "50", "--x", "-1:1:3", "--y", "-1:1:3",
                       "--name", "名前 テスト", "--out", str(out), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "Glyph" in line or "Warning" in line]
    assert len(said) == 1, result.stderr
    assert said[0].startswith("lstui: warning: the figures' font lacks some characters of their text")
    assert (out / "surface_train_loss_2dcontour.png").exists()


def test_a_surface_file_of_text_coordinates_is_said_to_hold_text(tmp_path):
    """It was "damaged or truncated (Can't synchronously read data (no appropriate
    function for conversion path))": a whole file, of the wrong type."""
    path = tmp_path / "strx.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = np.array([b"a", b"b", b"c"])
        f["ycoordinates"] = np.linspace(-1, 1, 3)
        f["train_loss"] = np.ones((3, 3))
    result = run_lstui("export", str(path), "--format", "png", home=tmp_path / "home")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"lstui: error: surface file {str(path)!r}: its 'xcoordinates' holds |S1 values, not numbers"


def test_loss_max_tops_a_1d_figure_s_loss_axis_as_the_reference_s_plot_1d(tmp_path):
    """The reference's `plot_1D.py --loss_max`: refused as unknown before; the plot had it."""
    import re

    path = tmp_path / "curve.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = np.linspace(-1, 1, 9)
        f["train_loss"] = 2 + 40 * np.linspace(-1, 1, 9) ** 2  # linear (no accuracy: one axis of ticks)
    drawn = run_lstui("export", str(path), "--format", "png", "--loss_max", "5", "--out", str(tmp_path / "o"),
                      home=tmp_path / "home")
    assert drawn.returncode == 0, drawn.stderr
    from lstui.scheduler.exporting import export_file

    def ticks(**options: float) -> set[float]:
        with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, to read the ticks
            (svg,) = export_file(path, tmp_path / "svg", formats=("svg",), **options)
        return {float(t) for t in re.findall(r">\s*(\d+(?:\.\d+)?)\s*</text>", svg.read_text())}

    assert 40.0 in ticks(), "the loss axis reaches the curve's 40"
    topped = ticks(loss_max=5.0)
    assert 5.0 in topped and not topped & {10.0, 20.0, 30.0, 40.0}, topped  # stopped at 5
    plane = tmp_path / "plane.h5"
    with h5py.File(plane, "w") as f:
        f["xcoordinates"] = np.linspace(-1, 1, 3)
        f["ycoordinates"] = np.linspace(-1, 1, 3)
        f["train_loss"] = np.ones((3, 3))
    refused = run_lstui("export", str(plane), "--loss-max", "5", home=tmp_path / "home")
    assert refused.returncode == 2
    assert "--loss-max is the top of a 1D figure's loss axis; this surface is 2D" in refused.stderr
    job_flag = run_lstui("run", "surface", "--loss_max", "5", home=tmp_path / "home")
    assert job_flag.returncode == 2 and "--loss_max is a drawing option: lstui export takes it" in job_flag.stderr


def test_a_done_job_exported_again_into_its_deleted_folder_is_marked_written(tmp_path):
    """`show` said "files being written by the daemon" for ever of a done job whose folder
    was deleted and then written again by `lstui export`: nothing marked it written."""
    from lstui.scheduler.daemon import finish_marked

    home = tmp_path / "home"
    spec = JobSpec(x=parse_axis("-1:1:3"), name="again")
    with Store.open_home(home) as store:
        job_id = store.add_job(kind=spec.kind, name=spec.name, spec=spec.to_dict(), total_points=3,
                               units=[[0, 1, 2]], results_root=home / "results")
        worker = store.register_worker("cpu", os.getpid(), "test")
        claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
        store.write_points(claim.unit_id, worker, [PointRow(i, 0.5 + i, 50.0) for i in claim.todo])
        assert store.complete_unit(claim.unit_id, worker)
        job = store.get_job(job_id)
    assert not finish_marked(job)
    done = run_lstui("export", str(job_id), "--format", "png", home=home)
    assert done.returncode == 0, done.stderr
    assert finish_marked(job) and (job.results_dir / "surface.h5").is_file()
    shown = run_lstui("show", str(job_id), "--no-plot", home=home).stdout
    assert "not there" not in shown and "being written" not in shown and "not written" not in shown, shown
    # into another folder, or into its own folder there: the daemon's to mark (an export
    # of svg alone right after the finish ended `submit --wait` before its png and pdf)
    (job.results_dir / ".lstui-finished").unlink()
    assert run_lstui("export", str(job_id), "--out", str(tmp_path / "elsewhere"), home=home).returncode == 0
    assert run_lstui("export", str(job_id), "--format", "svg", home=home).returncode == 0
    assert not finish_marked(job)


def test_a_2d_surfaces_options_given_for_a_1d_one_are_refused_not_ignored(tmp_path):
    """`export --surf-name foo` or `--vmin 5 --vmax 1` of a 1D surface drew its curves and
    exited 0, as if they had been taken (`--loss-max` of a 2D one is refused)."""
    src = tmp_path / "line.h5"
    with h5py.File(src, "w") as f:
        f["dir_file"] = ""
        f["xcoordinates"] = np.linspace(-1, 1, 5)
        f["train_loss"] = np.linspace(1, 2, 5)
    for option in (("--surf-name", "foo"), ("--vmin", "5"), ("--vmax", "1"), ("--vlevel", "0.5"), ("--zmax", "3")):
        result = run_lstui("export", str(src), "--format", "png", *option, "--out", str(tmp_path / "o"))
        assert result.returncode == 2, option
        assert result.stderr.strip() == (f"lstui: error: {option[0]} is for a 2D surface's figures; this surface "
                                         "is 1D (its curves draw every quantity; their loss axis: --loss-max, "
                                         "--log)"), result.stderr
    assert not (tmp_path / "o").exists()
    assert run_lstui("export", str(src), "--format", "png", "--loss-max", "3", "--out", str(tmp_path / "o")).returncode == 0


@pytest.mark.parametrize("num", [0, 1])
def test_a_surface_file_of_fewer_than_two_points_is_refused_in_one_line(tmp_path, num):
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = np.linspace(-1, 1, num)
        f["train_loss"] = np.ones(num)
    done = run_lstui("export", str(path), "--format", "png", "--out", str(tmp_path / "o"), home=tmp_path / "home")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"lstui: error: surface file {str(path)!r}: its xcoordinates hold {num} value{'' if num == 1 else 's'}; "
        "a grid has at least 2"], done.stderr


def test_a_log_1d_figure_of_losses_that_are_all_zero_is_drawn_linear(tmp_path):
    from lstui.plots import plot_1d

    fig = plot_1d(np.linspace(-1, 1, 5), {"train_loss": np.zeros(5)}, log=True)
    assert fig.axes[0].get_yscale() == "linear"


def test_a_path_drawn_over_a_surface_of_random_directions_is_labelled_alpha_beta_with_a_note(tmp_path):
    """`export SURF --proj-file P` of a surface on random directions drew P's path on axes
    reading "1st PC", without a word: P may belong to another plane."""
    import torch

    from lstui.results import write_directions
    from lstui.scheduler.exporting import export_file

    directions = tmp_path / "directions.h5"
    write_directions(directions, [torch.ones(3)], [torch.ones(3)])  # no PCA arrays
    proj = tmp_path / "projection.h5"
    with h5py.File(proj, "w") as f:
        f["proj_xcoord"], f["proj_ycoord"] = np.array([-0.5, 0.0]), np.array([0.3, 0.0])
    xs = np.linspace(-1, 1, 7)
    xx, yy = np.meshgrid(xs, xs)
    surface = tmp_path / "surface.h5"
    with h5py.File(surface, "w") as f:
        f["dir_file"] = str(directions)
        f["xcoordinates"], f["ycoordinates"] = xs, xs
        f["train_loss"] = 0.1 + xx**2 + yy**2
    notes: list[str] = []
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        paths = export_file(surface, tmp_path / "figs", formats=("svg",), proj_file=proj, on_note=notes.append)
    assert paths[-1].name == "surface_trajectory.svg"
    text = _svg_text(paths[-1])
    assert "PC" not in text and "α" in text and "β" in text, text
    assert notes == [f"{directions} holds no PCA directions: {proj} is drawn on them as it is; it belongs on this "
                     "surface only if it was projected on those directions"], notes


def test_a_surface_of_mse_loss_says_so_on_its_figures(tmp_path) -> None:
    """Its axes and titles read "loss", as cross-entropy's: a figure read without its job
    did not say which loss it shows."""
    from lstui import plots
    from lstui.results import read_surface
    from lstui.scheduler.exporting import loss_name, surface_values

    for loss, x, y in (("mse", "-1:1:3", ("--y", "-1:1:3")), ("crossentropy", "-1:1:3", ())):
        out = tmp_path / loss
        done = run_lstui("run", "surface", "--model", "mlp", "--subset", "50", "--loss", loss, "--x", x, *y,
                         "--out", str(out), home=tmp_path / "home")
        assert done.returncode == 0, done.stderr
        surface = read_surface(out / "surface.h5")
        expected = "MSE loss" if loss == "mse" else "loss"
        assert loss_name(surface) == expected
        assert surface_values(surface, "train_loss", "it")[1] == f"train {expected}"
    fig = plots.plot_1d([0.0, 1.0], {"train_loss": [1.0, 2.0]}, loss_label="MSE loss")
    assert fig.axes[0].get_ylabel() == "MSE loss"
    from matplotlib.legend import Legend

    legends = [t.get_text() for legend in fig.findobj(Legend) for t in legend.get_texts()]
    assert legends == ["train MSE loss"], legends  # was "train loss"


def test_show_and_the_tui_call_an_mse_loss_so_too() -> None:
    """The figures said "MSE loss"; `show`'s 1D legend and the TUI's preview said "loss"."""
    from lstui.plots import terminal_lines
    from lstui.tui.snapshot import PreviewData
    from lstui.tui.widgets._preview import curve_legend

    text = terminal_lines([0.0, 1.0], {"train_loss": [1.0, 2.0]}, width=60, height=12, loss_label="MSE loss")
    assert "train MSE loss" in text
    data = PreviewData(1, "surface", "j", 2, 2, np.array([0.0, 1.0]), None,
                       {"train_loss": np.array([1.0, 2.0]), "test_loss": np.array([1.0, 2.0])}, 1,
                       loss_label="MSE loss")
    assert curve_legend(data).plain.startswith("MSE loss ━ train ━ test")


def test_without_colour_the_tui_s_1d_curves_have_each_its_own_mark() -> None:
    """With NO_COLOR four braille lines of one colour and four alike "━" in the legend
    could not be told apart; `lstui show` marks them * o + x."""
    from lstui.tui.snapshot import PreviewData
    from lstui.tui.widgets._preview import curve_legend

    arrays = {k: np.array([1.0, 2.0]) for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
    data = PreviewData(1, "surface", "j", 2, 2, np.array([0.0, 1.0]), None, arrays, 1)
    assert curve_legend(data, plain=True).plain == "loss * train o test · acc % (right) + train x test"
    assert curve_legend(data).plain == "loss ━ train ━ test · acc % (right) ━ train ━ test"
