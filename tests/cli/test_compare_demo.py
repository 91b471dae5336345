"""The comparison's figure job and `lstui demo`, with a real daemon and real files."""

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lstui.datasets import load_data
from lstui.models import load_model
from lstui.store import JobState, Store
from tests.cli.conftest import run_lstui


def _checkpoints(tmp_path, seeds=(1, 2)):
    data = load_data("digits")
    paths = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = load_model("mlp", None, input_shape=data.input_shape, num_classes=data.num_classes)
        path = tmp_path / f"model_{seed}.pt"
        torch.save(model.state_dict(), path)
        paths.append(path)
    return paths


def _not_blank(path):
    pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
    return pixels.std() > 5


@pytest.fixture
def daemon_home(tmp_path):
    home = tmp_path / "home"
    yield home
    run_lstui("daemon", "stop", home=home, timeout=120)
    pid_file = home / "daemon.pid"
    if pid_file.exists():  # stop failed: do not leave a daemon behind
        pid = json.loads(pid_file.read_text())["pid"]
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


COMPARE = ["--model", "mlp", "--data", "digits", "--subset", "150", "--x", "-1:1:5",
           "--surface", "-1:1:3", "--interp-x", "0:1:3"]


def test_figure_job_waits_for_its_dependencies_then_draws_one_scale(tmp_path, daemon_home):
    a, b = _checkpoints(tmp_path)
    queued = run_lstui("compare", str(a), str(b), *COMPARE, "--labels", "small,large", home=daemon_home)
    assert queued.returncode == 0, queued.stderr
    # ±0.25 lies between the centre and 0.5: its value would be drawn from L(0), Δloss@0.5 / 2
    assert ("note: --x -1:1:5 has no point between the centre and ±0.25: the sharpness table leaves those "
            "columns out") in queued.stderr
    ids = [int(line) for line in queued.stdout.split()]
    assert len(ids) == 1 + 2 + 2 + 1
    with Store.open_home(daemon_home) as store:
        figure = store.get_job(ids[-1])
        assert figure.kind == "figure"
        assert set(figure.depends_on) == set(ids[:-1])
        # nothing runs yet: the figure job cannot be claimed while its dependencies wait
        worker = store.register_worker("cpu", os.getpid(), "test")
        claimed = set()
        while (claim := store.claim_unit(worker, 30)) is not None:
            claimed.add(claim.job_id)
        assert claimed == set(ids[:-1])
        store.retire_worker(worker)
        store.recover_orphans([])
    started = run_lstui("daemon", "start", "--devices", "cpu:2", home=daemon_home)
    assert started.returncode == 0, started.stderr
    with Store.open_home(daemon_home) as store:
        from lstui.scheduler.follow import follow_jobs

        jobs = follow_jobs(store, ids, timeout_s=240)
        assert [j.state for j in jobs] == [JobState.DONE] * len(ids), [j.error for j in jobs]
        deps_finished = max(j.finished for j in jobs[:-1])
        assert jobs[-1].started >= deps_finished
        results = jobs[-1].results_dir
    for name in ("comparison_2d.png", "comparison_1d.png", "interpolation_1.png", "sharpness.png"):
        assert _not_blank(results / name), name
    rows = json.loads((results / "sharpness.json").read_text())
    assert [r["model"] for r in rows] == ["small", "large"]
    shown = json.loads(run_lstui("show", str(ids[-1]), "--json", home=daemon_home).stdout)
    assert shown["surface_file"] is None  # a figure job draws figures; it has no surface file
    details = run_lstui("show", str(ids[-1]), "--no-plot", home=daemon_home).stdout.splitlines()
    assert f"  compares  small: {a}" in details and f"            large: {b}" in details, details
    assert all(r["weight norm"] > 0 for r in rows)
    with Store.open_home(daemon_home) as store:  # the curves' grid -1:1:5 lacks ±0.25: said
        said = [e.message for e in store.events(ids[-1])]
    # between the centre and 0.5 it would be drawn from L(0), Δloss@0.5 / 2: left out ("–")
    assert any("small: the table leaves out Δloss at ±0.25" in m for m in said), said
    assert [r["Δloss@0.25"] for r in rows] == [None, None] and all(r["Δloss@0.5"] is not None for r in rows)
    assert (results / "sharpness.csv").read_text().splitlines()[0].endswith(
        ",weight norm,checkpoint,L,loss,data,norm,ignore,seed")
    # what each row is of, for whoever reads the files later; not drawn, not shown
    assert [(r["checkpoint"], r["L"], r["norm"], r["ignore"]) for r in rows] == [
        (str(a), "train_loss", "filter", "biasbn"), (str(b), "train_loss", "filter", "biasbn")]
    assert all(isinstance(r["seed"], int) and r["data"] for r in rows), rows
    shown_text = run_lstui("show", str(ids[-1]), home=daemon_home).stdout
    assert "weight norm" in shown_text and "checkpoint" not in shown_text.split("sharpness of the train loss (")[1]
    # private, as every result (the table's CSV and JSON followed the umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in results.iterdir()}
    assert {name for name, mode in modes.items() if mode & 0o077} == set(), modes

    # the checkpoints moved away after the jobs: what was computed still exports and shows
    a.unlink()
    b.unlink()
    exported = run_lstui("export", str(ids[0]), "--format", "png", "--out", str(tmp_path / "again"),
                         home=daemon_home)
    assert exported.returncode == 0, exported.stderr
    assert [line.rsplit("/", 1)[-1] for line in exported.stdout.split()] == ["surface_1d.png"]
    # the comparison's figures drawn again as SVG (the checkpoints gone: the sharpness
    # table from its stored rows); was refused ("it drew its figures when it ran")
    again = tmp_path / "svg"
    exported = run_lstui("export", str(ids[-1]), "--format", "svg,vtp", "--out", str(again), home=daemon_home)
    assert exported.returncode == 0, exported.stderr
    assert "no vtp written: a comparison's figures are drawings" in exported.stderr  # not dropped unsaid
    assert sorted(p.name for p in again.glob("*.svg")) == [
        "comparison_1d.svg", "comparison_2d.svg", "interpolation_1.svg", "sharpness.svg"]
    assert json.loads((again / "sharpness.json").read_text()) == rows
    refused = run_lstui("export", str(ids[-1]), "--format", "vtp", home=daemon_home)
    assert refused.returncode == 2 and "a comparison's figures are drawings" in refused.stderr
    refused = run_lstui("export", str(ids[-1]), "--vlevel", "0.5", "--out", str(again), home=daemon_home)
    assert refused.returncode == 2 and "--vlevel has no effect on a comparison's figures" in refused.stderr
    linear = run_lstui("export", str(ids[-1]), "--no-log", "--format", "png", "--out", str(tmp_path / "lin"),
                       home=daemon_home)
    assert linear.returncode == 0, linear.stderr
    shown = run_lstui("show", str(ids[-1]), home=daemon_home)
    assert shown.returncode == 0, shown.stderr
    assert "  grid " not in shown.stdout  # a figure job has no grid of its own
    assert "progress  figures drawn" in shown.stdout and "points" not in shown.stdout.split("results")[0]
    table = shown.stdout.splitlines()[-3:]
    assert table[0].split()[:2] == ["model", "loss@0"]
    assert [line.split()[0] for line in table[1:]] == ["small", "large"]


def test_figure_job_fails_clearly_when_a_dependency_fails(tmp_path, daemon_home):
    a, b = _checkpoints(tmp_path)
    queued = run_lstui("compare", str(a), str(b), *COMPARE, home=daemon_home)
    assert queued.returncode == 0, queued.stderr
    ids = [int(line) for line in queued.stdout.split()]
    b.write_bytes(b"this is no checkpoint")  # broken after queueing
    assert run_lstui("daemon", "start", "--devices", "cpu:1", home=daemon_home).returncode == 0
    with Store.open_home(daemon_home) as store:
        from lstui.scheduler.follow import follow_jobs

        jobs = follow_jobs(store, ids, timeout_s=240)
    figure = jobs[-1]
    assert figure.state is JobState.FAILED
    assert figure.error.startswith("dependency ")
    shown = run_lstui("show", str(figure.id), "--no-plot", home=daemon_home)
    assert "error     dependency" in shown.stdout


def test_demo_quick_writes_figures_that_are_not_blank(tmp_path):
    out = tmp_path / "demo"
    # an earlier demo's copies: a second demo in the folder showed both runs' figures
    # and printed the earlier run's sharpness table first
    (out / "figures").mkdir(parents=True)
    for folder in (out, out / "figures"):
        folder.chmod(0o700)
    earlier = [out / "figures" / name for name in ("009-demo-2D-small-surface_train_loss_2dcontour.png",
                                                   "014-comparison-figures-demo-sharpness.json")]
    for path in earlier:
        path.write_text('[{"model": "earlier run"}]')
    (out / "figures" / ".lstui-demo-copies").write_text("".join(f"{p.name}\n" for p in earlier) + "../x\n")
    # an earlier, longer demo's checkpoints: its model_5 … stayed beside this run's
    # model_0 … 4, and a glob of the folder took both runs as one trajectory
    runs = out / "checkpoints" / "small-batch"
    runs.mkdir(parents=True)
    for folder in (out / "checkpoints", runs):
        folder.chmod(0o700)
    stale = runs / "model_60.pt"
    stale.write_bytes(b"an earlier run")
    # the person's own files, however their names look, are left alone
    mine = [out / "figures" / name for name in ("notes.txt", "2024-final-results.csv", "100-epochs.png")]
    mine.append(runs / "model_60-notes.txt")
    for path in mine:
        path.write_text("kept")
    for path in (*mine, out / "figures" / ".lstui-demo-copies", stale):
        path.chmod(0o600)
    result = run_lstui("demo", "--quick", "--out", str(out), home=tmp_path / "home", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str(out / "figures")
    assert not any(p.exists() for p in earlier) and all(p.read_text() == "kept" for p in mine)
    assert not stale.exists()
    assert "earlier run" not in result.stderr
    assert sum(line.startswith("model ") for line in result.stderr.splitlines()) == 1
    said = " ".join(result.stderr.split())  # rich wraps the long path
    assert f"({len(list((out / 'figures').iterdir())) - 1 - 3} files) in" in said, said[-500:]
    assert "note: --quick trains too little for the paper's picture" in said  # its story ran backwards
    pngs = sorted(p for p in (out / "figures").glob("*.png") if p not in mine)
    assert len(pngs) == 33  # the trajectories' 20 too: they came late, once (the daemon's look)
    names = " ".join(p.name for p in pngs)
    for expected in ("comparison_2d", "comparison_1d", "interpolation_1", "sharpness", "trajectory"):
        assert expected in names
    assert all(_not_blank(p) for p in pngs)
    assert not (tmp_path / "home" / "daemon.pid").exists()  # the daemon it started is gone
    # private to its owner, as the daemon's and `lstui run`'s files are (was 755/644)
    shared = [p for p in (out, *out.rglob("*")) if p.stat().st_mode & 0o077]
    assert not shared, shared[:5]

    # the sharpness table, one aligned line per minimizer (the CSV keeps every digit), on
    # stderr with the rest of the report: stdout is the figures' folder alone
    lines = result.stderr.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("model "))
    assert lines[header].split() == ["model", "loss@0", "Δloss@0.25", "Δloss@0.5", "Δloss@1", "weight", "norm"]
    for line, name in zip(lines[header + 1:header + 3], ("small-batch", "large-batch"), strict=True):
        cells = line.split()
        assert cells[0] == name and len(cells) == 6
        assert all(c == f"{float(c):.4g}" and float(c) >= 0 for c in cells[1:])

    # the finished jobs are not in `lstui ls`, and it says where they are
    listed = run_lstui("ls", home=tmp_path / "home").stdout.strip()
    jobs = json.loads(run_lstui("ls", "--all", "--json", home=tmp_path / "home").stdout)
    assert len(jobs) == 8 and {j["state"] for j in jobs} == {"done"}
    assert listed == "no queued or running jobs; 8 finished (lstui ls --all shows them)"

    # `lstui show` of a trajectory, into a pipe: bands as characters (click drops colours
    # there, which left a picture of identical blocks) and the path over them
    trajectory = next(j for j in jobs if j["kind"] == "trajectory")
    # each trajectory's PCA plane in a folder of its own under the home, as submit's: a
    # second demo wrote the same OUT/trajectories/small-batch and drew over the first
    planes = {json.loads(run_lstui("show", str(j["id"]), "--json", home=tmp_path / "home").stdout)["spec"]
              ["dir_file"] for j in jobs if j["kind"] == "trajectory"}
    assert len(planes) == 2 and all(
        Path(p).parent.parent == tmp_path / "home" / "trajectories" for p in planes), planes
    assert not (out / "trajectories").exists()
    shown = run_lstui("show", str(trajectory["id"]), home=tmp_path / "home").stdout
    assert "• trajectory" in shown and "\x1b[" not in shown
    picture = shown[shown.index("┌"):shown.index("└")]
    assert picture.count("•") >= 5 and len(set(picture) & set(".,:;-=~oxO#@")) >= 3


def test_the_demo_waits_for_each_jobs_finish_mark_not_its_first_png(tmp_path):
    """A job's figures are written one after another: the demo used to copy a folder
    as soon as it held one PNG, and once printed 46 of its 52 files."""
    from lstui.scheduler.daemon import FINISH_MARK
    from lstui.scheduler.demo import _exported
    from tests.store.support import add_job, finish_job

    with Store(tmp_path / "home" / "lstui.db") as store:
        job_id = add_job(store, tmp_path, points=2)
        finish_job(store, store.register_worker("cpu", 1, "h"), job_id)
        job = store.get_job(job_id)
        job.results_dir.mkdir(parents=True)
        (job.results_dir / "surface_1d.png").write_bytes(b"a first figure")
        assert not _exported(store, [job_id])
        (job.results_dir / FINISH_MARK).write_text("12.5\n")  # an earlier finish's mark
        assert not _exported(store, [job_id])
        (job.results_dir / FINISH_MARK).write_text(f"{job.finished!r}\n")
        assert _exported(store, [job_id])
        # a comparison's figure job draws its files before it is done, and is never
        # marked: the demo waited 30 s for its mark on every run
        figure = store.add_job(kind="figure", name="figures", spec={"figure": {}}, total_points=1,
                               units=[[0]], results_root=tmp_path / "results")
        assert not _exported(store, [job_id, figure])
        finish_job(store, store.register_worker("cpu", 2, "h"), figure)
        assert _exported(store, [job_id, figure])


def test_the_sharpness_distances_are_points_of_compare_s_default_grid():
    """The default curve grid was -1:1:51 (a point every 0.04): Δloss at 0.25 and 0.5
    were interpolated between points, and the table did not say so."""
    from lstui.scheduler.compare import off_grid_distances

    assert off_grid_distances(np.linspace(-1, 1, 51)) == [0.25, 0.5]
    assert off_grid_distances(np.linspace(-1, 1, 41)) == []
    # outside the grid there is no value ("–"), and one side alone is that side's: not interpolated
    assert off_grid_distances(np.linspace(-0.1, 0.1, 21)) == []
    assert off_grid_distances(np.linspace(0, 1, 21)) == []
    assert off_grid_distances(np.linspace(0, 1, 11)) == [0.25]
    # the centre, from which every Δloss is measured, was interpolated: across the minimum, a
    # loss@0 ten times the minimizer's; now no column has a value ("–") and compare refuses it
    assert off_grid_distances(np.linspace(-1, 1, 40)) == []
    # between the centre and its neighbour a value is drawn from L(0): not interpolated, left out
    from lstui.scheduler.compare import left_out_distances, sharpness

    assert (off_grid_distances(np.linspace(-1, 1, 5)), left_out_distances(np.linspace(-1, 1, 5))) == ([], [0.25])
    assert left_out_distances(np.linspace(-1, 1, 41)) == [] and left_out_distances(np.linspace(0, 1, 11)) == []
    assert left_out_distances(np.linspace(-1, 1, 4)) == [0.25, 0.5, 1.0]  # no centre: no column
    assert set(sharpness(np.linspace(-1, 1, 4), np.array([2.0, 0.5, 0.4, 2.1])).values()) == {None}
    x = np.linspace(-1, 1, 5)
    assert sharpness(x, 10 * x**2)["Δloss@0.25"] is None
    assert "[default: -1:1:41]" in run_lstui("compare", "--help").stdout


def test_compare_refuses_a_curve_grid_without_its_centre_and_notes_interpolations_past_the_ends(tmp_path):
    a, b = _checkpoints(tmp_path)
    home = tmp_path / "home"
    done = run_lstui("compare", str(a), str(b), "--model", "mlp", "--x", "-1:1:4", home=home)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "lstui: error: --x -1:1:4 has no point at 0, the minimizer itself: the sharpness table is measured from "
        "its loss there; give a grid through 0 (an odd count, as -1:1:41)"], done.stderr
    assert not (home / "results").exists()
    done = run_lstui("compare", str(a), str(b), "--model", "mlp", "--x", "-1:1:5", "--surface", "-1:1:3",
                     "--interp-x", "-0.5:1.5:11", "--subset", "50", home=home)
    assert done.returncode == 0, done.stderr
    assert ("note: --interp-x -0.5:1.5:11 has no point at α = 0 and 1, the minimizers themselves: the curves pass "
            "between their losses unmeasured (-0.5:1.5:41 has both)") in done.stderr


def test_a_diverged_interpolation_says_so_once_in_its_log(tmp_path, daemon_home):
    """It was said twice, in two wordings: when the job finished and again when the
    comparison drew it."""
    a, b = _checkpoints(tmp_path)
    state = torch.load(b)
    torch.save({k: v * 1e30 for k, v in state.items()}, b)  # its logits overflow: NaN loss
    started = run_lstui("daemon", "start", "--devices", "cpu:1", home=daemon_home)
    assert started.returncode == 0, started.stderr
    done = run_lstui("compare", str(a), str(b), *COMPARE, "--wait", home=daemon_home, timeout=240)
    assert done.returncode == 3, done.stderr  # done, some points diverged
    ids = [int(line) for line in done.stdout.split() if line.isdigit()]
    with Store.open_home(daemon_home) as store:
        (interp,) = [store.get_job(i) for i in ids if store.get_job(i).kind == "interp"]
        said = [e.message for e in store.events(interp.id) if "NaN" in e.message]
    assert len(said) == 1 and said[0].startswith("2 of 3 points"), said
    assert "with --dir-type states a BatchNorm running variance may have turned negative" in said[0]
    # the figure job drew its figures as it ran: `logs -f` of it ends at once (it waited
    # the minute given to a daemon's files for a mark no daemon writes of it)
    import time

    with Store.open_home(daemon_home) as store:
        (figures,) = [i for i in ids if store.get_job(i).kind == "figure"]
    began = time.monotonic()
    follow = run_lstui("logs", str(figures), "-f", home=daemon_home, timeout=120)
    assert follow.returncode == 0 and time.monotonic() - began < 20, (follow.stderr, time.monotonic() - began)


def test_the_sharpness_table_says_a_diverged_point_and_never_steps_over_it():
    """A NaN centre and a +inf at ±1 (the sharpest outcome) became finite numbers:
    the diverged points were dropped and the values interpolated across the gap."""
    from lstui.scheduler.compare import sharpness

    x = np.linspace(-1, 1, 41)
    loss = 10 * x**2 + 0.01
    assert sharpness(x, loss) == pytest.approx({"loss@0": 0.01, "Δloss@0.25": 0.625, "Δloss@0.5": 2.5,
                                               "Δloss@1": 10.0})
    at = {round(v, 3): k for k, v in enumerate(x)}
    sharp = loss.copy()
    sharp[at[1.0]] = np.inf
    table = sharpness(x, sharp)
    assert table["Δloss@1"] == np.inf and table["Δloss@0.5"] == pytest.approx(2.5)
    sharp[at[0.5]] = np.nan  # NaN beside +inf: not a number
    sharp[at[0.0]] = np.nan
    assert all(np.isnan(v) for v in sharpness(x, sharp).values())
    centre_only = loss.copy()
    centre_only[at[0.0]] = np.inf  # an increase from an infinite centre is no number, not −inf
    table = sharpness(x, centre_only)
    assert table["loss@0"] == np.inf and all(np.isnan(table[f"Δloss@{d:g}"]) for d in (0.25, 0.5, 1))
    between = np.linspace(-1, 1, 51)  # 0.25 lies between two points: one of them diverged
    sharp = 10 * between**2
    sharp[np.searchsorted(between, 0.25)] = np.inf
    assert sharpness(between, sharp)["Δloss@0.25"] == np.inf
    # outside the grid: no value (None, the table's "–"), not NaN (a diverged one)
    assert sharpness(np.linspace(0, 0.5, 11), np.linspace(0, 0.5, 11))["Δloss@1"] is None


def test_both_demos_interpolate_through_both_minimizers():
    """The quick demo's interpolation grid was -0.5:1.5:11 (a point every 0.2): neither
    minimizer (α = 0, α = 1) was on it, so the curve's two ends were never evaluated."""
    from lstui.scheduler.compare import off_grid_distances
    from lstui.scheduler.demo import DemoSettings

    for settings in (DemoSettings(), DemoSettings.quick()):
        alphas = np.linspace(-0.5, 1.5, settings.interp_num)
        assert np.isclose(alphas, 0.0).any() and np.isclose(alphas, 1.0).any(), settings
        # and the sharpness table's distances are points of the curves (was -1:1:11)
        assert off_grid_distances(np.linspace(-1, 1, settings.curve_num)) == [], settings


def test_compare_and_trajectory_import_the_persons_module_from_the_current_folder(tmp_path):
    """`submit surface` found `mylab` in the folder it was run from; `compare` and
    `submit trajectory` (whose checks and PCA build the model first) did not."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "mylab.py").write_text(
        "from torch import nn\n\ndef make_model():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n"
    )
    for seed in range(3):
        torch.manual_seed(seed)
        torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).state_dict(),
                   work / f"ck{seed}.pt")
    home = tmp_path / "home"
    # the `lstui` script, as a person runs it: its sys.path lacks the current folder
    # (`python -m lstui.cli` would have it)
    script = str(Path(sys.executable).parent / "lstui")
    env = {**os.environ, "LSTUI_HOME": str(home), "PYTHONPATH": ""}

    def lstui(*args):
        return subprocess.run([script, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)

    compared = lstui("compare", "ck0.pt", "ck1.pt", "--model", "mylab:make_model", "--data", "digits",
                     "--x", "-1:1:5", "--surface", "-1:1:3")
    assert compared.returncode == 0, compared.stderr
    trajectory = lstui("submit", "trajectory", "--checkpoints", "ck*.pt", "--model", "mylab:make_model",
                       "--data", "digits", "--num", "3")
    assert trajectory.returncode == 0, trajectory.stderr
    with Store.open_home(home) as store:
        jobs = store.list_jobs()
    assert len(jobs) == 7
    assert all(j.spec.get("import_path") == [str(work.resolve())] for j in jobs if j.kind != "figure")


def test_a_comparison_s_interpolations_share_one_loss_scale(tmp_path: Path, monkeypatch) -> None:
    """With three minimizers A→B came out on a linear axis and B→C on a log one (each
    deciding from its own range), so the two could not be read side by side."""
    import numpy as np
    from matplotlib.figure import Figure

    from lstui.landscape.grid import parse_axis
    from lstui.scheduler.compare import run_figure_job
    from lstui.spec import JobSpec
    from lstui.store import PointRow, Store

    x = np.linspace(-0.5, 1.5, 9)
    losses = {"a→b": 0.5 + (x - 0.5) ** 2, "b→c": 0.01 * np.exp(6 * x)}  # 0.5–1.5; 0.0005–80
    with Store.open_home(tmp_path / "home") as store:
        worker = store.register_worker("cpu", 4251, "lab")
        interps = []
        for name, loss in losses.items():
            spec = JobSpec(kind="surface", model="mlp", x=parse_axis("-0.5:1.5:9"), name=name).to_dict()
            spec.update(kind="interp", checkpoint="a.pt", checkpoint_b="b.pt")  # files not read
            job_id = store.add_job(kind="interp", name=name, spec=spec, total_points=9, units=[list(range(9))],
                                   results_root=tmp_path / "home" / "results")
            claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
            assert claim is not None
            store.write_points(claim.unit_id, worker, [PointRow(i, float(v)) for i, v in enumerate(loss)])
            assert store.complete_unit(claim.unit_id, worker)
            interps.append(job_id)
        figure = {"type": "comparison", "labels": ["A", "B", "C"], "interps": interps, "curves": [], "surfaces": []}
        scales: list[str] = []
        original = Figure.savefig

        def record(fig, *args, **kwargs):
            scales.append(fig.axes[0].get_yscale())
            return original(fig, *args, **kwargs)

        monkeypatch.setattr(Figure, "savefig", record)
        written = run_figure_job(JobSpec(kind="figure", model="mlp", figure=figure), store, tmp_path / "figs",
                                 formats=("png",), dpi=50)
    assert [p.name for p in written] == ["interpolation_1.png", "interpolation_2.png"]
    assert scales == ["log", "log"]  # B→C spans five decades: both on its scale


def test_a_comparison_of_mse_loss_says_so_on_every_figure(tmp_path: Path, monkeypatch) -> None:
    """The jobs' own figures said "MSE loss"; the comparison's said "loss" and "train
    loss", and its sharpness table did not record the loss (MSE's numbers ~100x smaller)."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from lstui.landscape.grid import parse_axis
    from lstui.scheduler.compare import _provenance, run_figure_job, sharpness_of
    from lstui.spec import JobSpec
    from lstui.store import PointRow, Store

    rows_from = tmp_path / "sharpness.json"  # (rows computed need the checkpoints: read back, as export does)
    rows_from.write_text(json.dumps([{"model": "A", "loss@0": 0.1, "L": "train_loss", "loss": "mse"}]))
    with Store.open_home(tmp_path / "home") as store:
        worker = store.register_worker("cpu", 4251, "lab")

        def done(kind: str, y: str | None) -> int:
            spec = JobSpec(kind="surface", model="mlp", x=parse_axis("-1:1:5"), loss="mse",
                           y=parse_axis(y) if y else None).to_dict()
            if kind == "interp":
                spec.update(kind="interp", checkpoint="a.pt", checkpoint_b="b.pt")  # files not read
            total = 5 * (5 if y else 1)
            job_id = store.add_job(kind=kind, name=kind, spec=spec, total_points=total, units=[list(range(total))],
                                   results_root=tmp_path / "home" / "results")
            claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
            assert claim is not None
            store.write_points(claim.unit_id, worker, [PointRow(i, 0.1 + i / 10) for i in range(total)])
            assert store.complete_unit(claim.unit_id, worker)
            return job_id

        figure = {"type": "comparison", "labels": ["A", "B"], "interps": [done("interp", None)],
                  "curves": [done("surface", None)], "surfaces": [done("surface", "-1:1:5")], "checkpoints": ["a.pt"]}
        said: list[str] = []
        original = Figure.savefig

        def record(fig, *args, **kwargs):  # every text drawn: titles, axes, legends, colour bars
            said.append(" | ".join(t.get_text() for t in fig.findobj(Text) if t.get_text()))
            return original(fig, *args, **kwargs)

        monkeypatch.setattr(Figure, "savefig", record)
        written = run_figure_job(JobSpec(kind="figure", model="mlp", figure=figure), store, tmp_path / "figs",
                                 formats=("png",), dpi=50, rows_from=rows_from)
    assert [p.name for p in written][:3] == ["comparison_2d.png", "comparison_1d.png", "interpolation_1.png"]
    drawn = dict(zip([p.stem for p in written], said, strict=False))
    assert "train MSE loss" in drawn["comparison_2d"], drawn
    assert "train MSE loss" in drawn["comparison_1d"], drawn
    assert "MSE loss" in drawn["interpolation_1"] and "train MSE loss" in drawn["interpolation_1"], drawn
    assert "L the train MSE loss" in drawn["sharpness"], drawn
    assert not any(f"{split} loss" in text for text in drawn.values() for split in ("train", "test")), drawn
    # the table's own record of it, and what `show` and the TUI title it
    assert _provenance({"loss": "mse"}, "a.pt", "train_loss")["loss"] == "mse"
    assert sharpness_of([{"L": "train_loss", "loss": "mse"}]) == "train MSE loss"
    assert sharpness_of([{"L": "train_loss"}]) == "train loss"  # a table from before the column: cross-entropy
    assert sharpness_of([{"L": "train_loss"}, {"L": "test_loss"}]) is None


def test_the_demo_names_the_jobs_a_busy_daemon_runs_before_its_own(tmp_path):
    """On a daemon with jobs queued the demo took 121 s, not 20, and said nothing of why."""
    from lstui.landscape.grid import parse_axis
    from lstui.scheduler.demo import jobs_ahead
    from lstui.scheduler.submit import submit_spec
    from lstui.spec import JobSpec

    with Store.open_home(tmp_path / "home") as store:
        def queue(priority):
            return submit_spec(store, JobSpec(model="mlp", x=parse_axis("-1:1:3"), priority=priority), check=False)

        first, low, paused = queue(0), queue(-1), queue(5)
        store.act("pause", [paused])
        demo = queue(0)
        assert jobs_ahead(store, demo) == [first]  # not the lower priority's, nor the paused one
        assert low not in jobs_ahead(store, demo) and paused not in jobs_ahead(store, demo)


_CTRL_C_AT_THIRD_JOB = '''
import os, signal

signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal (not a script's background job)
from lstui.store import _store

_add = _store.Store.add_job
_calls = []


def add_job(self, **kwargs):
    job_id = _add(self, **kwargs)
    _calls.append(job_id)
    if len(_calls) == 3:  # Ctrl-C, the real signal, with two jobs written
        os.kill(os.getpid(), signal.SIGINT)
    return job_id


_store.Store.add_job = add_job
'''


_CTRL_C_RIGHT_AFTER_THE_COMMIT = '''
import os, signal

signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal (not a script's background job)
from contextlib import contextmanager
from lstui.store import _store

_together = _store.Store.together


@contextmanager
def together(self):
    with _together(self):
        yield
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, the real signal, with every job queued


_store.Store.together = together
'''


@pytest.mark.parametrize("when", ["as the third job is queued", "right after the last"])
@pytest.mark.parametrize("what", ["compare", "job file"])
def test_a_set_of_jobs_interrupted_as_it_is_queued_is_queued_whole_and_said(tmp_path: Path, what: str,
                                                                           when: str) -> None:
    """Ctrl-C half way through `compare` left its interpolation queued alone (no curves,
    no figure job), which a daemon then computed for nothing; a job file's first jobs
    likewise. Right after the last was queued, it said "lstui: interrupted" alone: the
    command run again queued them twice. The interrupt waits until all are queued and
    said."""
    a, b = _checkpoints(tmp_path)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        _CTRL_C_AT_THIRD_JOB if when == "as the third job is queued" else _CTRL_C_RIGHT_AFTER_THE_COMMIT)
    home = tmp_path / "home"
    if what == "compare":
        args = ["compare", str(a), str(b), *COMPARE]
    else:
        jobs = tmp_path / "sweep.toml"
        jobs.write_text('[defaults]\nmodel = "mlp"\nx = "-1:1:3"\nsubset = "50"\n'
                        + "".join(f'[[job]]\nname = "s{n}"\nseed = {n}\n' for n in range(5)))
        args = ["submit", str(jobs)]
    done = run_lstui(*args, home=home, env={"PYTHONPATH": f"{hook}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert done.returncode == 130 and done.stderr.strip().splitlines()[-1] == "lstui: interrupted", done.stderr
    queued = [job["id"] for job in json.loads(run_lstui("ls", "--all", "--json", home=home).stdout)]
    assert len(queued) == (6 if what == "compare" else 5)
    assert [int(n) for n in done.stdout.split()] == queued, done.stdout
