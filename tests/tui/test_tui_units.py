"""The TUI's pure parts: the poller, the half-block heatmap, table layout and cells."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rich.cells import cell_len

from lstui.plots.levels import contour_levels
from lstui.results import write_projection
from lstui.scheduler.submit import submit_spec
from lstui.store import JobState, PointRow, Store
from lstui.tui.cells import COUNT_MAX, count, device_text, ellipsis, middle_path, progress_text
from lstui.tui.heatmap import (
    CENTRE_MARK,
    MIN_MARK,
    PATH_MARK,
    band_colours,
    draw_surface,
    fit,
    legend_lines,
    resample,
)
from lstui.tui.screens._job import job_facts
from lstui.tui.snapshot import StorePoller
from lstui.tui.widgets import JobTable, table_layout
from tests.tui.support import NOW, Clock, build_fixed_store, fixed_devices, point, tiny_spec


def _text(lines: list) -> list[str]:
    return ["".join(seg.text for seg in line) for line in lines]


# -- the heatmap ----------------------------------------------------------------------


def test_resample_averages_computed_points_and_leaves_gaps_blank() -> None:
    Z = np.array([[1.0, 3.0, np.nan, np.nan], [5.0, 7.0, np.nan, np.nan]])
    picture = resample(Z, 1, 2)
    assert picture[0, 0] == pytest.approx(4.0)
    assert math.isnan(picture[0, 1])


def test_resample_puts_the_largest_y_on_top_and_repeats_when_enlarging() -> None:
    Z = np.array([[0.0, 1.0], [2.0, 3.0]])  # row 1 is the larger y
    picture = resample(Z, 4, 4)
    assert picture[0].tolist() == [2.0, 2.0, 3.0, 3.0]
    assert picture[-1].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_fit_keeps_the_aspect_ratio_with_square_pixels() -> None:
    assert fit(2.0, 2.0, 80, 10) == (20, 20)
    assert fit(4.0, 2.0, 80, 10) == (40, 20)
    assert fit(2.0, 2.0, 12, 10) == (12, 12)


def test_a_partial_surface_is_drawn_with_blank_cells_and_marks() -> None:
    x = np.linspace(-1, 1, 9)
    y = np.linspace(-1, 1, 9)
    X, Y = np.meshgrid(x, y)
    Z = 1.0 + (X - 0.5) ** 2 + (Y - 0.5) ** 2
    Z[:, :4] = np.nan  # the left half is not computed yet
    levels = contour_levels(Z, num=5)
    picture = draw_surface(x, y, Z, 18, 9, levels=levels)
    rows = _text(picture.lines)
    assert picture.width == 18 and len(rows) == 9
    assert all(row[:6].strip() == "" for row in rows), "not computed: blank"
    assert all(set(row[8:]) <= {"▀", "▄", MIN_MARK, CENTRE_MARK} for row in rows), "computed: drawn"
    assert sum(row.count(MIN_MARK) for row in rows) == 1
    assert picture.extreme == (0.5, 0.5, 1.0)
    full = draw_surface(x, y, np.nan_to_num(Z, nan=3.0), 18, 9, levels=levels)
    assert sum(row.count(CENTRE_MARK) for row in _text(full.lines)) == 1


def test_a_trajectory_path_is_drawn_over_the_map() -> None:
    x = y = np.linspace(-1, 1, 11)
    Z = np.add.outer(y**2, x**2) + 0.1
    path = (np.array([-0.8, -0.4, 0.0]), np.array([0.8, 0.4, 0.0]))
    picture = draw_surface(x, y, Z, 22, 11, levels=contour_levels(Z), path=path)
    assert sum(row.count(PATH_MARK) for row in _text(picture.lines)) >= 5


def test_without_colour_bands_are_characters() -> None:
    x = y = np.linspace(-1, 1, 5)
    Z = np.add.outer(y**2, x**2)
    picture = draw_surface(x, y, Z, 10, 5, levels=np.array([0.5, 1.0, 1.5]), plain=True)
    chars = set("".join(_text(picture.lines)))
    assert "▀" not in chars and {".", "@"} & chars
    assert all(seg.style is None or seg.style.color is None for line in picture.lines for seg in line)


def test_the_legend_names_each_band_from_the_top() -> None:
    levels = np.array([0.5, 1.0, 2.0])
    lines = _text(legend_lines(levels, band_colours(4), 10))
    assert [line[3:] for line in lines] == ["≥2.0", " 1.0", " 0.5", "<0.5"]
    assert len(legend_lines(np.arange(1.0, 12.0), band_colours(12), 6)) == 6


@pytest.mark.parametrize("n_bands", [2, 5, 8, 10, 12, 16, 20])
def test_a_256_colour_terminal_gets_one_palette_colour_a_band(n_bands: int) -> None:
    """In tmux's default 256 colours two viridis neighbours became one palette colour:
    the 80x24 preview of a demo surface drew its 2.0 and 3.0 bands alike."""
    from rich.color import Color, ColorSystem

    def numbers(colours: list[tuple[int, int, int]]) -> list[int | None]:
        return [Color.from_rgb(*c).downgrade(ColorSystem.EIGHT_BIT).number for c in colours]

    if n_bands >= 8:
        assert len(set(numbers(band_colours(n_bands)))) < n_bands, "truecolour's viridis merges"
    shown = numbers(band_colours(n_bands, eight_bit=True))
    assert len(set(shown)) == n_bands, shown
    assert shown[0] == numbers(band_colours(n_bands))[0] and shown[-1] == numbers(band_colours(n_bands))[-1]
    # the map and its bar alike; and `lstui show`'s plot
    from lstui.plots.palette import terminal_has_256_colours

    assert terminal_has_256_colours({"TERM": "screen-256color"})
    assert not terminal_has_256_colours({"TERM": "screen-256color", "COLORTERM": "truecolor"})
    assert not terminal_has_256_colours({"TERM": "xterm-kitty"})
    levels = np.linspace(0.0, 1.0, n_bands - 1)
    Z = np.linspace(-0.1, 1.1, 40)[None, :].repeat(20, axis=0)
    picture = draw_surface(np.linspace(-1, 1, 40), np.linspace(-1, 1, 20), Z, 40, 10, levels=levels,
                           eight_bit=True)
    assert picture.colours == band_colours(n_bands, eight_bit=True)


# -- the poller -----------------------------------------------------------------------


def test_the_poller_reads_points_only_when_done_points_change(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clock = Clock()
    with Store.open_home(home, clock=clock) as store:
        spec = tiny_spec()
        job = submit_spec(store, spec, unit_size=5)
        worker = store.register_worker("cpu", 1, "here")
        poller = StorePoller(home, clock=clock, device_facts=fixed_devices)
        first = poller.poll(job)
        assert first.preview is not None and first.preview.done_points == 0
        assert np.isnan(first.preview.arrays["train_loss"]).all()
        reads = poller.points_reads
        poller.poll(job)
        assert poller.points_reads == reads, "nothing new: no point read"

        claim = store.claim_unit(worker, 60, job_ids=[job])
        assert claim is not None
        store.write_points(claim.unit_id, worker, [point(spec, i) for i in claim.todo])
        second = poller.poll(job)
        assert poller.points_reads == reads + 1
        assert second.preview is not None and second.preview.done_points == len(claim.todo)
        Z = second.preview.arrays["train_loss"]
        assert np.isfinite(Z).sum() == len(claim.todo)
        i = claim.todo[0]
        assert Z.flat[i] == pytest.approx(point(spec, i).train_loss)
        assert np.isnan(first.preview.arrays["train_loss"]).all(), "an older snapshot is never changed"
        assert second.preview.version > first.preview.version
        third = poller.poll(job)
        assert third.preview is second.preview
        poller.close()


def test_the_poller_gives_the_job_screen_its_log_and_files(tmp_path: Path) -> None:
    home = build_fixed_store(tmp_path / "home")
    poller = StorePoller(home, clock=lambda: NOW, device_facts=fixed_devices)
    with Store.open_home(home) as store:
        job = store.get_job(1)
    job.results_dir.mkdir(parents=True)
    (job.results_dir / "surface_train_loss_2dcontour.png").write_bytes(b"x" * 10)
    snap = poller.poll(detail_job=1)
    assert snap.detail is not None
    assert [e.message for e in snap.detail.events][:1] == ["queued: 441 points in 7 units"]
    assert snap.detail.files == (("surface_train_loss_2dcontour.png", 10),)
    # a figure being written, and hidden folders: temporary, not listed
    (job.results_dir / ".surface_train_loss_3dsurface.pid321@lab.png.tmp").write_bytes(b"")
    (job.results_dir / ".cache").mkdir()
    (job.results_dir / ".cache" / "x.png").write_bytes(b"x")
    assert poller.poll(detail_job=1).detail.files == (("surface_train_loss_2dcontour.png", 10),)  # type: ignore[union-attr]
    assert [w.current_job for w in snap.workers] == [2, 3]
    assert snap.devices == tuple(fixed_devices())
    poller.close()


def test_a_trajectory_preview_carries_its_projection_and_tolerates_none(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        job_id = store.add_job(kind="trajectory", name="traj", spec={"x": "-1:1:3", "y": "-1:1:3", "split": "train"},
                               total_points=9, units=[list(range(9))], results_root=home / "results")
        worker = store.register_worker("cpu", 1, "here")
        claim = store.claim_unit(worker, 60)
        assert claim is not None
        store.write_points(claim.unit_id, worker, [PointRow(i, float(i)) for i in range(9)])
        results = store.get_job(job_id).results_dir
    poller = StorePoller(home, device_facts=fixed_devices)
    snap = poller.poll(job_id)
    assert snap.preview is not None and snap.preview.path is None
    results.mkdir(parents=True, exist_ok=True)
    write_projection(results / "projection.h5", np.array([0.5, 0.0]), np.array([0.5, 0.0]))
    snap = poller.poll(job_id)
    assert snap.preview is not None and snap.preview.path is not None
    assert snap.preview.path[0].tolist() == [0.5, 0.0]
    poller.close()


# -- table and cells --------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_table_fits_the_terminal(width: int) -> None:
    spec = table_layout(width)
    total = sum(w for _, w in spec.widths)
    assert total == width - 1, "one column is left for the scrollbar"
    assert spec.width("name") >= 12
    assert spec.width("state") >= len(" cancelled")


def test_cells_stay_short() -> None:
    from lstui.views import format_duration

    assert [count(n) for n in (12, 9999, 10201, 250_000, 1_500_000)] == ["12", "9999", "10.2k", "250k", "1.5M"]
    # a year-old job's "ago" read 8757h09m; days past 99 hours, in the ELAPSED column's 7 cells
    assert [format_duration(s) for s in (59, 3599, 99 * 3600 + 3599, 100 * 3600, 31_527_000)] == [
        "59s", "59m59s", "99h59m", "4d04h", "364d21h"]
    assert device_text("cuda:0,cuda:1") == "cuda:0,1"
    assert device_text(None) == "-"
    assert ellipsis("resnet56 small batch", 10) == "resnet56 …"


def test_progress_reads_without_colour(tmp_path: Path) -> None:
    home = build_fixed_store(tmp_path / "home")
    with Store.open_home(home) as store:
        job = store.get_job(2)
    text = progress_text(job, 10, colour=False)
    assert text.plain == "████░░░░░░  42%"
    assert all(not span.style or "dim" in str(span.style) for span in text.spans)


def test_the_status_line_counts_one_job_and_many(tmp_path: Path) -> None:
    from lstui.tui.snapshot import Snapshot
    from lstui.tui.widgets._devices import status_line

    with Store.open_home(tmp_path / "home") as store:
        submit_spec(store, tiny_spec())
        one = Snapshot(taken=NOW, jobs=tuple(store.list_jobs()))
        submit_spec(store, tiny_spec())
        two = Snapshot(taken=NOW, jobs=tuple(store.list_jobs()))
    assert status_line(one, "", devices=False).plain.split(" │ ")[1] == "1 job · 1 queued"
    assert status_line(two, "", devices=False).plain.split(" │ ")[1] == "2 jobs · 2 queued"


@pytest.mark.parametrize("width", [40, 50, 60, 66, 70, 73, 74, 79, 80, 100, 119, 120, 160])
def test_the_points_column_holds_the_longest_count_with_a_gap(width: int) -> None:
    """``10.2k/10.2k`` ran into the progress column's percentage, and a done 101×101
    job lost the k of its total."""
    longest = max((count(n) for n in (12, 9999, 10_201, 99_950, 99_999, 250_000, 999_999, 1_500_000,
                                      9_999_999, 10_000_000, 999_999_999)), key=len)
    assert len(longest) <= COUNT_MAX
    assert count(99_999) == "99.9k", "rounded down, never 100.0k"
    spec = table_layout(width)
    if "points" in spec.columns:
        assert spec.width("points") >= len(f"{longest}/{longest}") + 1


@pytest.mark.parametrize("width", [60, 66, 70, 72])
def test_a_narrow_table_drops_device_and_kind_before_elapsed_and_eta(width: int) -> None:
    """Below about 73 columns ELAPSED and ETA were pushed off the edge without a word."""
    spec = table_layout(width)
    assert sum(w for _, w in spec.widths) == width - 1
    assert {"id", "name", "state", "progress", "elapsed", "eta"} <= set(spec.columns)
    assert "device" not in spec.columns
    assert ("kind" in spec.columns) is (width >= 68)
    assert spec.width("name") >= 8


def test_names_are_cut_by_terminal_cells_with_an_ellipsis() -> None:
    """CJK characters and emoji take two cells: counted as one, a name ran past its
    column and lost the ``…``."""
    from rich.cells import cell_len

    name = "λ-ландшафт-損失-地形-🙂-final"
    for width in range(4, 30):
        cut = ellipsis(name, width)
        assert cell_len(cut) <= width
        if cell_len(name) > width:
            assert cut.endswith("…")
    assert ellipsis("λ-ландшафт-損失", 13) == "λ-ландшафт-…"
    assert ellipsis("損失地形", 8) == "損失地形"


def test_a_paused_job_shows_its_elapsed_seconds_not_under_a_minute(tmp_path: Path) -> None:
    """``<1m`` is for a time that still runs; a paused job's 11 s stay 11 s (``ls`` said
    11s while the table said <1m)."""
    clock = Clock()
    with Store.open_home(tmp_path / "home", clock=clock) as store:
        job_id = submit_spec(store, tiny_spec(), unit_size=5)
        worker = store.register_worker("cpu", 1, "here")
        assert store.claim_unit(worker, 60, job_ids=[job_id]) is not None
        clock.advance(11)
        running = store.get_job(job_id)
        store.pause(job_id)
        paused = store.get_job(job_id)
    layout = table_layout(80)
    assert JobTable._keys(running, clock.now, layout)["elapsed"] == "<1m"
    assert JobTable._keys(paused, clock.now + 300, layout)["elapsed"] == "11s"


def test_ls_and_the_tui_say_stalled_when_no_daemon_runs(stopped_home: Path) -> None:
    """After ``kill -9`` of the daemon its jobs stay running in the store; with no daemon
    on the home, ``lstui ls`` and the TUI's cells (one rule, in lstui.views) show them
    stalled, without an ETA or a rate."""
    from click.testing import CliRunner

    from lstui.cli import cli
    from lstui.tui.screens._job import throughput
    from lstui.views import eta_s, state_code, state_name
    from tests.tui.support import holding_daemon_lock

    runner = CliRunner()

    def ls(*args: str) -> str:
        result = runner.invoke(cli, ["--home", str(stopped_home), "ls", *args], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.output

    def row(text: str, job_id: int) -> list[str]:
        return next(line.split() for line in text.splitlines() if line.split()[:1] == [str(job_id)])

    stalled_row = row(ls(), 2)
    assert stalled_row[1:3] == ["ST", "stalled"]
    assert stalled_row[-4] == "-", "no ETA (the name is three words)"
    listed = {j["id"]: j for j in json.loads(ls("--json"))}
    assert (listed[2]["state"], listed[2]["stalled"], listed[2]["eta_s"]) == ("running", True, None)
    assert listed[5]["stalled"] is False
    with Store.open_home(stopped_home) as store:
        job = store.get_job(2)
    layout = table_layout(80)
    keys = JobTable._keys(job, NOW, layout, daemon_running=False)
    assert (keys["state"], keys["eta"]) == ("stalled", "-")
    assert throughput(job, NOW, daemon_running=False) == "-"
    assert (state_name(job, daemon_running=False), state_code(job, daemon_running=False)) == ("stalled", "ST")
    assert eta_s(job, NOW, daemon_running=False) is None

    shown = runner.invoke(cli, ["--home", str(stopped_home), "show", "2", "--no-plot"]).output
    assert "state     stalled (ST): no daemon runs on this home" in shown and "ETA -" in shown
    assert json.loads(runner.invoke(cli, ["--home", str(stopped_home), "show", "2", "--json"]).output)["stalled"]

    with holding_daemon_lock(stopped_home):  # a daemon runs: running, with an ETA
        shown = runner.invoke(cli, ["--home", str(stopped_home), "show", "2", "--no-plot"]).output
        assert "state     running (R)" in shown and "ETA -" not in shown
        running_row = row(ls(), 2)
        assert running_row[1:3] == ["R", "running"]
        assert running_row[-4] != "-"
        assert json.loads(ls("--json"))[1]["stalled"] is False
    keys = JobTable._keys(job, NOW, layout, daemon_running=True)
    assert (keys["state"], keys["eta"]) == ("running", "24m")


@pytest.mark.parametrize("width", [42, 43, 44, 45, 46])
def test_a_name_that_fits_without_its_folders_is_shown_whole(width: int) -> None:
    """At 44 and 45 cells a 43-cell folder name was cut in its middle all the same, its
    halves overlapping ("00013-cmp-comparison-f…figures-small-vs-large")."""
    name = "00013-cmp-comparison-figures-small-vs-large"
    cut = middle_path(f"/tmp/walk/home/results/{name}", width)
    assert cell_len(cut) <= width
    if width >= len(name):
        assert cut.endswith(name) and cut.count("…") <= 1, cut
    else:
        assert cut.replace("…", "") in (name[:21] + name[-21:], name[:20] + name[-21:]), cut


@pytest.mark.parametrize("width", [8, 12, 20, 30, 47, 200])
def test_long_paths_are_cut_in_the_middle_keeping_the_file_name(width: int) -> None:
    path = "/srv/lab/experiments/2026-resnet56/sgd-lr0.1-batch128/checkpoints/model_300.t7"
    cut = middle_path(path, width)
    assert cell_len(cut) <= width
    if width >= len(path):
        assert cut == path
    elif width >= len("model_300.t7") + 3:
        assert cut.endswith("…/model_300.t7") and path.startswith(cut.split("…")[0])
    else:  # the name whole where it fits alone, else cut in its middle
        assert cut.endswith(".t7") and ("…" in cut or cut == "model_300.t7"), cut


def test_the_job_screen_cuts_paths_to_its_width_so_they_keep_their_labels(stopped_home: Path) -> None:
    with Store.open_home(stopped_home) as store:
        job = store.get_job(3)
    deep = "/srv/lab/experiments/2026-resnet56/sgd-lr0.1-batch128/checkpoints/model_300.t7"
    job = dataclasses.replace(job, spec={**job.spec, "checkpoint": deep})
    facts = job_facts(job, NOW, width=58).plain.splitlines()
    line = next(line for line in facts if line.startswith("checkpoint "))
    assert line.endswith("…/model_300.t7") and len(line) <= 58
    results = next(line for line in facts if line.startswith("results "))
    assert len(results) <= 58
    assert job_facts(job, NOW).plain.count(deep) == 1, "no width: the whole path"


def test_the_job_screen_wraps_facts_under_their_values_between_their_parts(stopped_home: Path) -> None:
    """A long error wrapped back to column 1, under the labels; at 120 columns the
    directions line broke between ``seed`` and its value."""
    with Store.open_home(stopped_home) as store:
        job = store.get_job(4)
    error = "unit 0 failed 3 times: CUDA out of memory (tried to allocate 2.00 GiB) " * 2
    job = dataclasses.replace(job, error=error, spec={**job.spec, "seed": 123})
    facts = job_facts(job, NOW, width=58).plain.splitlines()
    start = next(n for n, line in enumerate(facts) if line.startswith("error "))
    rows = [facts[start]]
    while facts[start + len(rows)].startswith(" " * 11):
        rows.append(facts[start + len(rows)])
    assert len(rows) >= 3 and all(len(row) <= 58 for row in rows)
    assert " ".join(row[11:].strip() for row in rows) == error.strip()
    directions = [n for n, line in enumerate(facts) if line.startswith("directions ")][0]
    assert "seed 123" in facts[directions] + facts[directions + 1]
    assert not any(line.strip() == "123" or line.rstrip().endswith(" seed") for line in facts)
    assert all(len(line) <= 58 for line in facts)


def test_the_job_screen_names_a_trajectorys_centre_run_and_plane(stopped_home: Path) -> None:
    """It read "checkpoint <the other run's model>" for a path on another run's plane
    (--origin plane), and "epochs 5 checkpoints"; the plane was not named."""
    with Store.open_home(stopped_home) as store:
        job = store.get_job(3)
    run = [f"/runs/small/model_{n}.pt" for n in range(5)]
    plane = "/home/lstui/trajectories/20261207-trajectory-cnn-model_4/pca_directions.h5"
    job = dataclasses.replace(job, kind="trajectory", spec={
        **job.spec, "checkpoint": "/runs/large/model_12.pt", "checkpoints": run, "dir_file": plane})
    facts = job_facts(job, NOW).plain.splitlines()
    assert "centre     /runs/large/model_12.pt" in facts, facts
    assert "run        5 checkpoints, model_0.pt … model_4.pt in /runs/small" in facts, facts
    assert f"plane      {plane}" in facts, facts
    assert not any(line.startswith(("checkpoint ", "epochs ")) for line in facts), facts
    spread = dataclasses.replace(job, spec={**job.spec, "checkpoints": [*run[:4], "/runs/more/model_5.pt"]})
    assert ("run        5 checkpoints, /runs/small/model_0.pt … /runs/more/model_5.pt"
            in job_facts(spread, NOW).plain.splitlines())


def test_the_job_screen_says_a_figure_job_draws_figures_and_a_waiting_job_has_no_device(
    stopped_home: Path,
) -> None:
    """A comparison's figure job said "1/1 points" and a rate in points/min; a job back
    in the queue showed the device it last ran on."""
    with Store.open_home(stopped_home) as store:
        job = store.get_job(3)
    figure = dataclasses.replace(job, kind="figure", state=JobState.DONE, total_points=1, done_points=1)
    facts = job_facts(figure, NOW).plain
    assert "figures drawn" in facts and " points" not in facts.split("results")[0], facts
    waiting = dataclasses.replace(job, state=JobState.QUEUED, device="cuda:1")
    (progress,) = [line for line in job_facts(waiting, NOW).plain.splitlines() if line.startswith("progress")]
    assert progress.endswith("device -")
    running = dataclasses.replace(waiting, state=JobState.RUNNING)
    assert "device cuda:1" in job_facts(running, NOW).plain


def test_the_folded_device_line_names_ray_workers_and_their_jobs() -> None:
    """At 80 columns the line read "● daemon running │ cpu 100%" while two Ray workers
    computed job 7: their device is not one of this machine's."""
    from lstui.scheduler.daemon import DaemonStatus
    from lstui.scheduler.devices import DeviceFacts
    from lstui.store import WorkerRow
    from lstui.tui.snapshot import Snapshot
    from lstui.tui.widgets._devices import device_summary

    workers = tuple(WorkerRow(id=n, device="ray:vm/cpu", pid=100 + n, host="vm", started=0.0, heartbeat=0.0,
                              state="alive", current_job=7) for n in (1, 2))
    snapshot = Snapshot(taken=0.0, jobs=(), workers=workers, daemon=DaemonStatus(True, 42, ("ray-cpu", "ray-cpu")),
                        devices=(DeviceFacts("cpu", "CPU", utilisation=100.0),))
    assert device_summary(snapshot, colour=False).plain.endswith("│ cpu load 100% │ ray:vm/cpu job 7")


def test_the_folded_device_line_names_each_percentage_as_the_panel_does() -> None:
    """At 80 columns, no daemon running, the line read "○ daemon stopped (d starts it) │
    cpu 100%", as if a worker were busy: the CPU's percentage is the machine's load."""
    from lstui.scheduler.daemon import DaemonStatus
    from lstui.scheduler.devices import DeviceFacts
    from lstui.tui.snapshot import Snapshot
    from lstui.tui.widgets._devices import device_lines, device_summary

    cpu = DeviceFacts("cpu", "CPU", utilisation=100.0)
    stopped = Snapshot(taken=0.0, jobs=(), workers=(), daemon=DaemonStatus(False, None, ()), devices=(cpu,))
    line = device_summary(stopped, colour=False).plain
    assert line == "○ daemon stopped (d starts it) │ cpu load 100%"
    assert len(line) <= 60
    gpu = DeviceFacts("cuda:0", "NVIDIA H100", 87.0, 31 * 2**30, 80 * 2**30, 61.0)
    running = Snapshot(taken=0.0, jobs=(), workers=(), daemon=DaemonStatus(True, 42, ("cuda:0",)),
                       devices=(gpu, cpu))
    line = device_summary(running, colour=False).plain
    assert line == "● daemon running │ cuda:0 util 87% 31.0/80.0G 61°C │ cpu load 100%"
    panel = device_lines(running, 40, colour=False).plain
    assert "util " in panel and "load " in panel, "the words of the unfolded panel"


def test_a_file_check_s_reason_names_its_field() -> None:
    """`cifar10:ck` (said with its folder made absolute) and an interpolation from a file to
    itself ("--checkpoint-b is the --checkpoint file itself") went to the form's foot."""
    from lstui.tui.form import GENERAL
    from lstui.tui.screens._new_job import _field_named

    values = {"kind": "interp", "checkpoint": "ck/a.pt", "checkpoint_b": "ck/a.pt", "data": "cifar10:ck",
              "checkpoints": "", "model": "cnn"}
    folder = str(Path("ck").absolute())
    assert _field_named(f"cifar10 folder {folder} holds no cifar-10-batches-py/", values) == "data"
    assert _field_named("--checkpoint-b is the --checkpoint file itself: nothing to interpolate", values) \
        == "checkpoint_b"
    assert _field_named("the database is locked", values) == GENERAL
    trajectory = {**values, "kind": "trajectory", "checkpoints": "run/*.pt"}  # its checkpoint is hidden
    assert _field_named("checkpoint 'ck/a.pt' does not fit model 'cnn'", trajectory) == "checkpoints"


def test_an_interpolation_s_checkpoint_placeholder_does_not_offer_an_empty_field() -> None:
    """It read "file of model A (empty: seeded init)", where an interpolation needs A."""
    from lstui.tui.form import FIELDS, placeholder_of

    field = {f.key: f for f in FIELDS}
    assert "empty" not in placeholder_of(field["checkpoint"], "interp")
    assert placeholder_of(field["checkpoint_b"], "interp") == "file of model B (x = 1)"
    assert "empty: seeded init" in placeholder_of(field["checkpoint"], "surface")


@pytest.mark.parametrize("size", [(80, 24), (119, 30), (120, 30)])
def test_five_digit_job_ids_are_shown_whole(tmp_path: Path, size: tuple[int, int]) -> None:
    """Below 120 columns the ID column held 3 digits and a gap: jobs 14960-14969 all read
    "1496", the id of another job; at 119 columns job 15006 read "1500"."""
    from tests.tui.support import drive_app, screen_text

    home = tmp_path / "home"
    with Store.open_home(home) as store:
        store.set_meta("last_removed_job", "998")  # (a long-used store: ids past those removed)
        first = submit_spec(store, tiny_spec(name="one"))  # job 999: the ID column fits it
        store.set_meta("last_removed_job", "14999")
        later = [submit_spec(store, tiny_spec(name=f"n{n}")) for n in range(2)]
    assert (first, later) == (999, [15000, 15001])

    async def steps(pilot, app) -> None:  # type: ignore[no-untyped-def]
        rows = [line.split() for line in screen_text(app)]
        ids = [row[1] if row[0] in "│▏┃" else row[0] for row in rows if len(row) > 2]
        assert {"999", "15000", "15001"} <= set(ids), screen_text(app)

    drive_app(home, steps, size=size)


def test_a_log_line_of_another_day_has_its_date() -> None:
    """A year-old job's log lines read as of today (their time of day only)."""
    from datetime import datetime

    from lstui.store import Event
    from lstui.tui.screens._job import event_line

    event = Event(1, 1, NOW - 365 * 86400, "info", "wrote surface.h5")
    assert event_line(event, None, NOW).plain.startswith(
        datetime.fromtimestamp(NOW - 365 * 86400).strftime("%Y-%m-%d %H:%M:%S info"))
    today = Event(2, 1, NOW - 60, "info", "wrote surface.h5")
    assert event_line(today, None, NOW).plain[:9].count(":") == 2 and "-" not in event_line(today, None, NOW).plain[:9]
