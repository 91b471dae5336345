"""``t``: what a 2D preview draws (train loss → test loss → train acc % → test acc %),
app-wide as ``g`` is, on real stores holding real points."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from lstui.landscape.grid import parse_axis
from lstui.scheduler.submit import submit_spec
from lstui.spec import JobSpec
from lstui.store import PointRow, Store
from lstui.tui import LstuiApp
from lstui.tui.heatmap import MIN_MARK, draw_surface, extreme_mark, surface_levels
from lstui.tui.screens import HelpScreen, JobScreen, MainScreen
from lstui.tui.widgets import KeyBar, Preview, SurfaceView
from tests.tui.support import Clock, fixed_app, loss_at, screen_text, select_job, settle, wait_for

BOTH, TRAIN, CURVE, LOSS_ONLY = 1, 2, 3, 4
"""The jobs of :func:`_quantities_home`."""


def _point(spec: JobSpec, idx: int, *, accuracy: bool = True) -> PointRow:
    """Every quantity the job's split has, each a different surface: the test loss is
    higher and its basin elsewhere; an accuracy falls as its loss rises."""
    x, y = spec.grid.coordinates_of(idx)
    train = loss_at(x, y)
    test = 0.4 + loss_at(-x, y + 0.3)
    values: dict[str, float | None] = {"train_loss": train, "train_acc": 100.0 * math.exp(-train)}
    if spec.split == "both":
        values.update(test_loss=test, test_acc=100.0 * math.exp(-1.3 * test))
    if not accuracy:
        values["train_acc"] = None
    return PointRow(idx, **values)


def _quantities_home(home: Path) -> Path:
    """Job 1: a 7×7 surface of both splits (four quantities); job 2: a surface of the
    train split (loss and accuracy); job 3: a 1D surface of both splits; job 4: a
    surface whose points hold a train loss only. All computed."""
    clock = Clock()
    home.mkdir(parents=True, exist_ok=True)
    axis = parse_axis("-1:1:7")
    specs = [
        JobSpec(model="mlp", data="digits", x=axis, y=axis, split="both", name="both splits"),
        JobSpec(model="mlp", data="digits", x=axis, y=axis, split="train", name="train split"),
        JobSpec(model="mlp", data="digits", x=parse_axis("-1:1:21"), split="both", name="a line"),
        JobSpec(model="mlp", data="digits", x=axis, y=axis, name="loss only"),
    ]
    with Store.open_home(home, clock=clock) as store:
        worker = store.register_worker("cpu", 4243, "lab")
        for n, spec in enumerate(specs, start=1):
            spec = spec.validated()
            job_id = submit_spec(store, spec)
            assert job_id == n
            while (claim := store.claim_unit(worker, lease_s=3600, job_ids=[job_id])) is not None:
                store.write_points(claim.unit_id, worker,
                                   [_point(spec, i, accuracy=job_id != LOSS_ONLY) for i in claim.todo])
                assert store.complete_unit(claim.unit_id, worker)
                clock.advance(1.0)
    return home


def _lines(preview: Preview) -> list[str]:
    """The surface's lines as painted: the map, its colour bar and the info lines (read
    from the widget: a notification could cover them on the screen)."""
    return [strip.text for strip in preview.surface._build()]


def _quantity_line(preview: Preview) -> str:
    """The info line that names the quantity drawn."""
    lines = [line for line in _lines(preview) if "linear" in line or "log (g)" in line]
    assert len(lines) == 1, lines
    return lines[0]


def _painted(surface: SurfaceView) -> list[list[tuple[str, object]]]:
    """The map and colour bar as painted: every segment's text and style."""
    return [[(seg.text, seg.style) for seg in strip] for strip in surface._build()]


async def _on_job_one(pilot: Pilot[None], app: LstuiApp) -> Preview:
    """The app settled on job 1 (both splits), its train loss drawn: the main preview."""
    await settle(pilot)
    await select_job(pilot, BOTH)
    preview = app.main.preview
    await wait_for(pilot, lambda: preview.drawn == "train_loss", 10, "job 1's surface")
    return preview


async def _press(pilot: Pilot[None], key: str) -> None:
    await pilot.press(key)
    await pilot.pause(0.2)


def test_t_steps_the_2d_preview_through_the_job_s_quantities(tmp_path: Path) -> None:
    home = _quantities_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            preview = await _on_job_one(pilot, app)
            await wait_for(pilot, lambda: any("train loss · linear (g) · t: next" in line
                                              for line in _lines(preview)), 5, "the train loss's line")
            assert "train loss · linear (g) · t: next" in _quantity_line(preview)
            pictures = [_painted(preview.surface)]
            expected = [("test_loss", "test loss · linear (g) · t: next", "* min"),
                        ("train_acc", "train acc % · linear · t: next", "* max"),
                        ("test_acc", "test acc % · linear · t: next", "* max"),
                        ("train_loss", "train loss · linear (g) · t: next", "* min")]
            for key, line, mark in expected:
                await _press(pilot, "t")
                assert preview.drawn == key
                assert line in _quantity_line(preview)
                assert any(mark in row for row in _lines(preview))
                pictures.append(_painted(preview.surface))
            assert all(a != b for a, b in zip(pictures, pictures[1:], strict=False)), "each is painted anew"
            assert pictures[0] == pictures[-1], "back to the train loss"
            data = preview.shown_data
            assert data is not None
            # the max marked is the accuracy's largest value, as the snapshot holds it
            await _press(pilot, "t")
            await _press(pilot, "t")
            acc = data.arrays["train_acc"]
            assert f"* max {np.nanmax(acc):.4g}" in "\n".join(_lines(preview))

            # g: a log scale for the losses; the accuracy stays linear, and g says so
            await _press(pilot, "g")
            assert preview.log_scale and not preview.surface.log_levels
            assert "train acc % · linear · t: next" in _quantity_line(preview)
            assert app.notices[-1] == ("information", "log scale on for the losses; an accuracy stays linear")
            await _press(pilot, "t")
            await _press(pilot, "t")
            await _press(pilot, "t")
            assert preview.drawn == "test_loss" and preview.surface.log_levels
            assert "test loss · log (g) · t: next" in _quantity_line(preview)
            assert not any(sev == "error" for sev, _ in app.notices)

    asyncio.run(drive())


def test_the_choice_is_app_wide_kept_across_jobs_and_followed_by_the_job_screen(tmp_path: Path) -> None:
    home = _quantities_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            preview = await _on_job_one(pilot, app)
            for _ in range(3):
                await _press(pilot, "t")
            assert preview.drawn == "test_acc"

            # job 2 has no test accuracy: its first quantity, and the line says which
            await select_job(pilot, TRAIN)
            await wait_for(pilot, lambda: preview.job_id == TRAIN and preview.drawn is not None, 10, "job 2")
            await wait_for(pilot, lambda: preview.drawn == "train_loss" and preview.quantity == "test_acc"
                           and any("train loss · linear (g) · t: next" in line for line in _lines(preview)), 5,
                           "job 2's train loss")
            assert preview.drawn == "train_loss" and preview.quantity == "test_acc"
            assert "train loss · linear (g) · t: next" in _quantity_line(preview)
            await select_job(pilot, BOTH)
            await wait_for(pilot, lambda: preview.job_id == BOTH and preview.drawn == "test_acc", 10,
                           "job 1 in its test accuracy again")

            # a job screen opened now draws the same, and t there changes both
            await pilot.press("g")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 5, "the job screen")
            screen = app.screen
            assert isinstance(screen, JobScreen)
            await _press(pilot, "v")
            job_preview = screen.query_one(Preview)
            await wait_for(pilot, lambda: job_preview.drawn is not None, 10, "the job screen's surface")
            assert job_preview.drawn == "test_acc"
            assert job_preview.log_scale, "g before the screen opened holds there too"
            shown = _painted(job_preview.surface)
            await _press(pilot, "t")
            assert job_preview.drawn == "train_loss" and preview.drawn == "train_loss"
            assert _painted(job_preview.surface) != shown
            assert "train loss · log (g)" in _quantity_line(job_preview)
            await _press(pilot, "t")
            assert job_preview.drawn == preview.drawn == "test_loss"
            await _press(pilot, "escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), 5, "the main screen")
            await wait_for(pilot, lambda: any("test loss · log (g) · t: next" in line for line in _lines(preview)), 5,
                           "the main preview's test loss")
            assert "test loss · log (g) · t: next" in _quantity_line(preview)

            # under a dialog, t does nothing
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")
            await _press(pilot, "t")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), 5, "the main screen")
            assert preview.drawn == "test_loss"

    asyncio.run(drive())


def test_t_leaves_a_1d_preview_alone_and_says_when_a_job_has_one_quantity(tmp_path: Path) -> None:
    home = _quantities_home(tmp_path / "home")

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            preview = app.main.preview
            await select_job(pilot, CURVE)
            await wait_for(pilot, lambda: preview.job_id == CURVE and preview.curves.display, 10, "the curves")
            await wait_for(pilot, lambda: "loss ━ train ━ test · acc % (right) ━ train ━ test"
                           in next((line for line in screen_text(app) if "points ·" in line), ""), 5,
                           "every curve named")
            before = screen_text(app)
            title = next(line for line in before if "points ·" in line)
            # every curve named within 80 columns ("test acc" ran past the edge)
            assert "loss ━ train ━ test · acc % (right) ━ train ━ test" in title, title
            await _press(pilot, "t")
            assert app.notices[-1] == ("information", "a 1D preview draws every quantity already")
            assert preview.curves.display and preview.quantity is None
            assert next(line for line in screen_text(app) if "points ·" in line) == title

            await select_job(pilot, LOSS_ONLY)
            await wait_for(pilot, lambda: preview.job_id == LOSS_ONLY and preview.drawn is not None, 10,
                           "the loss-only surface")
            await wait_for(pilot, lambda: any("train loss · linear (g)" in line for line in _lines(preview)), 5,
                           "the train loss's line")
            line = _quantity_line(preview)
            assert "train loss · linear (g)" in line and "t: next" not in line
            shown = _painted(preview.surface)
            await _press(pilot, "t")
            assert app.notices[-1] == ("information", "this job has train loss only")
            assert preview.drawn == "train_loss" and _painted(preview.surface) == shown
            assert not any(sev == "error" for sev, _ in app.notices)

    asyncio.run(drive())


def test_the_palette_runs_t_and_the_key_bar_shows_it_where_it_adds_no_row(tmp_path: Path) -> None:
    home = _quantities_home(tmp_path / "home")

    def keys(app: LstuiApp) -> set[str]:
        return {key.key for key in app.main.query(FooterKey)}

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            preview = await _on_job_one(pilot, app)
            await app.run_action("cycle_quantity")
            assert preview.drawn == "test_loss"
            assert "Next quantity" in {c.title for c in app.get_system_commands(app.screen)}

            bar = app.main.query_one(KeyBar)
            await wait_for(pilot, lambda: "t" in keys(app), 5, "t in the key bar")
            assert bar.size.height == 2
            assert any("t What" in line for line in screen_text(app)[-2:])
            # a kept filter's esc Clear would take a third row with t: t gives way
            await pilot.press("slash", *"split", "enter")
            await wait_for(pilot, lambda: "escape" in keys(app), 5, "esc in the key bar")
            await pilot.pause(0.3)
            assert "t" not in keys(app) and bar.size.height == 2
            await pilot.resize_terminal(140, 30)
            await wait_for(pilot, lambda: "t" in keys(app), 5, "t back in one row")
            await wait_for(pilot, lambda: bar.size.height == 1 and "escape" in keys(app), 5, "one row at 140 columns")
            # at 120 they do not all fit in one row, nor without t: two rows, with q Quit
            # in view (it was cut off past the edge of one row)
            await pilot.resize_terminal(120, 30)
            await wait_for(pilot, lambda: bar.size.height == 2, 5, "two rows at 120 columns")
            await wait_for(pilot, lambda: "q Quit" in "".join(screen_text(app)[-2:]), 5, "q Quit in view")
            await pilot.resize_terminal(80, 24)
            await wait_for(pilot, lambda: "t" not in keys(app), 5, "t gone at 80 columns")
            await pilot.press("escape")
            await wait_for(pilot, lambda: "t" in keys(app), 5, "t back without the filter")
            await pilot.pause(0.3)
            assert bar.size.height == 2

    asyncio.run(drive())


def test_an_accuracy_marks_its_maximum_and_its_levels_resolve_the_top() -> None:
    x = y = np.linspace(-1, 1, 9)
    X, Y = np.meshgrid(x, y)
    acc = 97.3 - 80.0 * ((X - 0.5) ** 2 + (Y + 0.25) ** 2)
    assert extreme_mark(x, y, acc, highest=True) == (0.5, -0.25, 97.3)
    assert extreme_mark(x, y, acc) == (-1.0, 1.0, float(acc[-1, 0]))
    levels, log = surface_levels(acc, log=True, num=9, highest=True)
    assert not log and np.all(np.diff(levels) > 0)
    assert levels[-1] <= 97.3 < levels[-1] + (levels[-1] - levels[-2]), "the top band holds the maximum"
    assert levels[0] > acc.min(), "the lowest values share the bottom band"
    picture = draw_surface(x, y, acc, 18, 9, levels=levels, highest=True)
    assert picture.extreme == (0.5, -0.25, 97.3)
    assert sum("".join(s.text for s in line).count(MIN_MARK) for line in picture.lines) == 1


def test_a_loss_diverged_to_inf_at_every_point_is_still_the_loss_drawn() -> None:
    """Every point so far at +inf loss, the accuracy finite (a logit of -inf keeps its
    accuracy): the preview drew the accuracy and said the job had nothing else."""
    from lstui.tui.snapshot import PreviewData
    from lstui.tui.widgets import drawn_quantity, quantities

    shape = (3, 3)
    data = PreviewData(1, "surface", "diverged", 9, 9, np.linspace(-1, 1, 3), np.linspace(-1, 1, 3),
                       {"train_loss": np.full(shape, np.inf), "train_acc": np.full(shape, 10.0)}, 0,
                       computed=np.ones(shape, dtype=bool))
    assert quantities(data) == ("train_loss", "train_acc")
    assert drawn_quantity(data, None) == "train_loss"
    all_nan = PreviewData(1, "surface", "diverged", 9, 9, np.linspace(-1, 1, 3), np.linspace(-1, 1, 3),
                          {"train_loss": np.full(shape, np.nan), "train_acc": np.full(shape, np.nan)}, 0,
                          computed=np.ones(shape, dtype=bool))
    assert drawn_quantity(all_nan, None) == "train_loss"
