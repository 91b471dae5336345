"""A comparison's figure job on its job screen (its sharpness table), and the new-job
form's reason for a priority out of range."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from lstui.scheduler.compare import SHARPNESS_TITLE
from lstui.scheduler.submit import submit_spec
from lstui.spec import JobSpec
from lstui.store import JobState, PointRow, Store
from lstui.tui import LstuiApp
from lstui.tui.form import GENERAL
from lstui.tui.screens import JobScreen, NewJobScreen
from lstui.tui.screens._job import SHARPNESS_FILE, SharpnessTable, sharpness_text
from lstui.views import rows_text
from tests.tui.support import fixed_app, open_form, screen_text, settle, wait_for

ROWS = [
    {"model": "small-batch", "loss@0": 0.12816670572128952, "Δloss@0.25": 0.5323375988694908,
     "Δloss@0.5": 3.959505769891064, "Δloss@1": 17.76517672981657, "weight norm": 19.35399818971843},
    {"model": "large-batch", "loss@0": 1.03295107768254, "Δloss@0.25": 0.279171994288266,
     "Δloss@0.5": 1.0139935068643686, "Δloss@1": 3.3034918124657846, "weight norm": 10.830943686407801},
]
"""The demo's table (``lstui demo --quick``)."""
SHOWN = [
    "model        loss@0  Δloss@0.25  Δloss@0.5  Δloss@1  weight norm",
    "small-batch  0.1282      0.5323       3.96    17.77        19.35",
    "large-batch   1.033      0.2792      1.014    3.303        10.83",
]
"""The rows as ``lstui show`` prints them: four significant digits."""


def add_done_figure_job(home: Path, sharpness: str | None) -> int:
    """A comparison's figure job, done, whose results folder holds ``sharpness`` as its
    ``sharpness.json`` (None: no such file); returns its id."""
    ckpt = home / "checkpoints"
    figure = {"type": "comparison", "labels": ["small-batch", "large-batch"],
              "checkpoints": [str(ckpt / "small-batch.pt"), str(ckpt / "large-batch.pt")],
              "interps": [3], "curves": [], "surfaces": [1, 2]}
    spec = JobSpec(kind="figure", model="mlp", data="digits", checkpoint=str(ckpt / "small-batch.pt"),
                   figure=figure, name="comparison figures small-batch vs large-batch").validated()
    with Store.open_home(home) as store:
        job_id = submit_spec(store, spec, check=False)
        worker = store.register_worker("cpu", 4250, "lab")
        claim = store.claim_unit(worker, lease_s=3600, job_ids=[job_id])
        assert claim is not None
        results = Path(store.get_job(job_id).results_dir)
        results.mkdir(parents=True, exist_ok=True)
        if sharpness is not None:
            (results / SHARPNESS_FILE).write_text(sharpness)
        store.write_points(claim.unit_id, worker, [PointRow(0, None, None, None, None)])
        assert store.complete_unit(claim.unit_id, worker)
        assert store.get_job(job_id).state is JobState.DONE
    return job_id


def sharpness_screen(home: Path, job_id: int) -> list[str]:
    """The lines of the job screen of ``job_id`` at 80x24 once its table (or the reason
    for none) shows, each stripped; the app still on that screen (no crash)."""
    lines: list[str] = []

    async def drive() -> None:
        app = fixed_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_job_screen(pilot, job_id)
            await wait_for(pilot, lambda: screen.query_one(SharpnessTable).display, 5, "the table")
            await wait_for(pilot, lambda: any(line.strip() == SHARPNESS_TITLE
                                              or line.strip().startswith("no sharpness table: ")
                                              for line in screen_text(app)), 5, "the table on screen")
            lines.extend(line.strip() for line in screen_text(app))
            assert isinstance(app.screen, JobScreen)

    asyncio.run(drive())
    return lines


async def open_job_screen(pilot: Pilot[None], job_id: int) -> JobScreen:
    """The job screen of ``job_id`` once its results folder is listed."""
    app = pilot.app
    assert isinstance(app, LstuiApp)
    await settle(pilot)
    app.open_job(job_id)
    await wait_for(pilot, lambda: isinstance(app.screen, JobScreen) and bool(app.screen.query("#job-files")),
                   5, "the job screen")
    screen = app.screen
    assert isinstance(screen, JobScreen)
    await wait_for(pilot, lambda: "figures" in str(screen.query_one("#job-files", Static).render()),
                   10, "the results folder listed")
    await pilot.pause(0.2)
    return screen


def test_the_sharpness_table_is_written_as_lstui_show_prints_it() -> None:
    diverged = {"model": "diverged", "loss@0": math.nan, "Δloss@0.25": math.inf, "Δloss@0.5": None,
                "Δloss@1": 3, "weight norm": True, "interpolated": "loss@0 Δloss@0.25"}
    rows: list[dict[str, object]] = [*ROWS, diverged]
    assert sharpness_text(rows).plain == rows_text(rows)
    assert sharpness_text(ROWS).plain.splitlines() == SHOWN


def test_a_done_figure_job_shows_its_sharpness_table_at_80x24(stopped_home: Path) -> None:
    """Its one result, the table, above the facts: in view without scrolling, every
    column whole in 80 columns, titled with what the numbers are."""
    # as the figure job writes it: the file's own columns (checkpoint, …) are not shown
    written = [{**row, "checkpoint": f"/runs/{row['model']}.pt", "L": "train_loss", "seed": 123} for row in ROWS]
    lines = sharpness_screen(stopped_home, add_done_figure_job(stopped_home, json.dumps(written, indent=1)))
    assert SHARPNESS_TITLE in lines
    for row in SHOWN:
        assert row in lines, (row, lines)
    assert lines.index(SHOWN[0]) == lines.index(SHARPNESS_TITLE) + 1
    assert any(line.startswith("state") and "done" in line for line in lines), "the facts follow"
    # a figure job draws files, not a surface: no plot keys (v said so, g and t did nothing)
    assert not any(key in line for line in lines for key in ("v Plot", "g Scale", "t What")), lines[-3:]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "sharpness.json is not in the results folder"),
        ('{"model": ', "sharpness.json is not JSON"),
        ('{"model": "small-batch"}', "sharpness.json is not a list of rows"),
        ("[]", "sharpness.json is not a list of rows"),
        ("\xff\xfe", "sharpness.json is not JSON"),
    ],
    ids=["missing", "cut-short", "not-a-list", "empty", "not-text"],
)
def test_a_figure_job_without_a_readable_table_says_so_in_one_line(
    stopped_home: Path, content: str | None, reason: str
) -> None:
    lines = sharpness_screen(stopped_home, add_done_figure_job(stopped_home, content))
    assert f"no sharpness table: {reason}" in lines, lines
    text = "\n".join(lines)
    assert SHARPNESS_TITLE not in text and "weight norm" not in text
    assert any(line.startswith("state") and "done" in line for line in lines)


def test_other_jobs_show_no_sharpness_table(stopped_home: Path) -> None:
    async def drive() -> None:
        app = fixed_app(stopped_home)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_job_screen(pilot, 1)  # a done surface
            assert not screen.query_one(SharpnessTable).display
            text = "\n".join(screen_text(app))
            assert "sharpness" not in text
            await wait_for(pilot, lambda: all(key in "\n".join(screen_text(app))
                                              for key in ("v Plot", "g Scale", "t What")), 5, "a surface's plot keys")

    asyncio.run(drive())


def test_a_priority_out_of_range_is_said_under_its_field(fixed_home: Path) -> None:
    """A whole number too big for the store was refused by the whole spec's check, its
    reason flush left under the form instead of under the priority field."""
    huge = "99999999999999999999999"

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            form = await open_form(pilot)
            form.set_value("priority", huge)
            await pilot.press("enter")
            await wait_for(pilot, lambda: bool(form.errors), 5, "the reason")
            assert isinstance(app.screen, NewJobScreen), "the form stays open"
            assert set(form.errors) == {"priority"}
            assert huge in form.errors["priority"] and "1000000000" in form.errors["priority"]
            label = form.query_one("#error-priority", Static)
            assert label.display
            assert str(label.render()).startswith("↑ ")
            assert not form.query_one(f"#error-{GENERAL}", Static).display
            assert form.query_one("#field-priority").has_class("-wrong")
            assert app.focused is form.query_one("#field-priority")
            await wait_for(pilot, lambda: any("↑ --priority" in line for line in screen_text(app)), 5, "the arrow")
            lines = screen_text(app)
            arrow = next(n for n, line in enumerate(lines) if "↑ --priority" in line)
            assert "priority" in lines[arrow - 1] and huge in lines[arrow - 1]
            assert lines[arrow].index("↑") == lines[arrow - 1].index(huge), "under the field's value"

    asyncio.run(drive())


def test_a_comparison_s_job_screen_names_every_checkpoint_it_compares(stopped_home: Path) -> None:
    """It named the first alone ("checkpoint …/small-batch.pt"); `lstui show` names both."""
    from lstui.tui.screens._job import job_facts

    job_id = add_done_figure_job(stopped_home, None)
    with Store.open_home(stopped_home) as store:
        job = store.get_job(job_id)
    lines = job_facts(job, 0.0, colour=False, width=80).plain.splitlines()
    compared = [line for line in lines if "small-batch.pt" in line or "large-batch.pt" in line]
    assert compared[0].startswith("compares   small-batch: ") and compared[0].endswith("small-batch.pt"), lines
    assert compared[1].startswith("           large-batch: ") and compared[1].endswith("large-batch.pt"), lines
    assert len(compared) == 2 and not any(line.startswith("checkpoint") for line in lines), lines
