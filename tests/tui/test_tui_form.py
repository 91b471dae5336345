"""The new-job form: field-by-field validation, and nothing queued while a field is wrong."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import torch
from textual.pilot import Pilot
from textual.widgets import Static

from lstui.models import build_model
from lstui.scheduler.submit import submit_spec
from lstui.store import Store
from lstui.tui.form import GENERAL, HIDDEN, defaults, validate_form
from lstui.tui.screens import NewJobScreen
from lstui.tui.screens._new_job import WAITING
from tests.tui.support import fixed_app, open_form, screen_text, tiny_spec, wait_for


def test_form_defaults_are_the_cli_defaults() -> None:
    spec, errors = validate_form(defaults())
    assert errors == {}
    assert spec is not None
    assert (spec.kind, spec.model, spec.data, str(spec.x), spec.y) == ("surface", "cnn", "digits", "-1:1:51", None)
    assert (spec.norm, spec.dir_type, spec.split, spec.priority) == ("filter", "weights", "train", 0)


def test_every_wrong_field_gets_its_own_reason(tmp_path: Path) -> None:
    spec, errors = validate_form({
        "model": " ", "checkpoint": str(tmp_path / "missing.pt"), "x": "1:-1:5", "y": "zero",
        "norm": "sideways", "priority": "high", "name": "bad\x07name",
    })
    assert spec is None
    assert set(errors) == {"model", "checkpoint", "x", "y", "norm", "priority", "name"}
    assert "no such file" in errors["checkpoint"]
    assert "MIN must be smaller than MAX" in errors["x"]
    assert "not a grid spec" in errors["y"]
    assert "choose one of filter" in errors["norm"]
    assert "whole number" in errors["priority"]


def test_interp_needs_both_checkpoints_and_one_axis(tmp_path: Path) -> None:
    """A y left from a surface is not sent: the field is hidden for an interpolation (it
    was kept, then refused with "interp is one-dimensional")."""
    spec, errors = validate_form({"kind": "interp", "y": "-1:1:3"})
    assert spec is None
    assert set(errors) == {"checkpoint", "checkpoint_b"}
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"")
    b.write_bytes(b"")
    spec, errors = validate_form({"kind": "interp", "checkpoint": str(a), "checkpoint_b": str(b),
                                  "x": "-0.5:1.5:41", "y": "-1:1:3", "dir_type": "states"})
    assert errors == {}
    assert spec is not None and spec.checkpoint_b == str(b) and spec.y is None


def test_an_interpolation_s_form_hides_the_norm_it_does_not_use(fixed_home: Path, tmp_path: Path) -> None:
    """The form offered "norm filter" for an interpolation, which moves along B − A
    unscaled (`submit interp --norm` is refused); `show` then said "norm filter"."""
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"")
    b.write_bytes(b"")
    spec, errors = validate_form({"kind": "interp", "checkpoint": str(a), "checkpoint_b": str(b),
                                  "norm": "layer"})
    assert errors == {} and spec is not None and spec.norm == "filter", "not sent: the default"

    async def drive() -> None:
        from textual.widgets import Select

        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            form = await open_form(pilot)
            row = form.query_one("#field-norm").parent
            assert row is not None and row.display
            form.query_one("#field-kind", Select).value = "interp"
            await wait_for(pilot, lambda: not row.display and "norm" not in "\n".join(screen_text(app)), 5,
                           "the norm row hidden")
            form.query_one("#field-kind", Select).value = "surface"
            await wait_for(pilot, lambda: row.display, 5, "the norm row shown")

    asyncio.run(drive())


def test_checkpoint_b_is_hidden_and_not_sent_but_for_an_interpolation() -> None:
    """A surface showed checkpoint-b only to refuse it ("only an interp job uses
    checkpoint B"); it is hidden there now, and a value left from an interp not sent."""
    spec, errors = validate_form({"checkpoint_b": "/etc/hostname"})
    assert errors == {} and spec is not None and spec.checkpoint_b is None
    assert "checkpoint_b" in HIDDEN["surface"] and "checkpoint_b" not in HIDDEN["interp"]


def test_bad_input_in_the_form_is_marked_and_nothing_is_queued(fixed_home: Path) -> None:
    with Store.open_home(fixed_home) as store:
        before = len(store.list_jobs())
    asyncio.run(_fill_the_form_badly(fixed_home))
    with Store.open_home(fixed_home) as store:
        assert len(store.list_jobs()) == before


async def _fill_the_form_badly(fixed_home: Path) -> None:
    app = fixed_app(fixed_home)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await pilot.press("ctrl+u")  # model (the focus starts there): emptied
        for _ in range(3):
            await pilot.press("tab")  # checkpoint, data, x (checkpoint-b: an interp's, hidden)
        await pilot.press("ctrl+u", *"1:-1:5", "tab", *"zero")  # x, then y
        form.set_value("priority", "high")
        await pilot.press("enter")
        await pilot.pause(0.1)
        await wait_for(pilot, lambda: set(form.errors) == {"model", "x", "y", "priority"}, 5, "the reasons")
        assert isinstance(app.screen, NewJobScreen), "the form stays open"
        for key in ("model", "x", "y", "priority"):
            label = form.query_one(f"#error-{key}", Static)
            assert label.display
            assert form.errors[key] in str(label.render())
            assert form.query_one(f"#field-{key}").has_class("-wrong")
        for key in ("data", "name", "norm"):
            assert not form.query_one(f"#error-{key}", Static).display
            assert not form.query_one(f"#field-{key}").has_class("-wrong")
        assert app.focused is form.query_one("#field-model"), "the first wrong field has the focus"
        # editing a wrong field takes its reason away; the others keep theirs
        await pilot.press(*"mlp")
        await pilot.pause(0.1)
        await wait_for(pilot, lambda: set(form.errors) == {"x", "y", "priority"}, 5, "the model's reason gone")
        assert not form.query_one("#error-model", Static).display
        assert not form.query_one("#field-model").has_class("-wrong")
        assert form.query_one("#error-x", Static).display
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewJobScreen), 5, "the form to close")


def test_a_checkpoint_of_another_model_keeps_the_form_open_with_its_reason(
    fixed_home: Path, tmp_path: Path
) -> None:
    """The files are checked in a thread after the fields: the reason goes under the field
    that names the file, nothing is queued; the right model then queues the job."""
    checkpoint = tmp_path / "cnn.pt"
    torch.save(build_model("cnn", input_shape=(1, 8, 8)).state_dict(), checkpoint)
    with Store.open_home(fixed_home) as store:
        before = len(store.list_jobs())
    asyncio.run(_queue_with_a_misfit_checkpoint(fixed_home, checkpoint))
    with Store.open_home(fixed_home) as store:
        jobs = store.list_jobs()
    assert len(jobs) == before + 1
    assert jobs[-1].spec["model"] == "cnn" and jobs[-1].spec["checkpoint"] == str(checkpoint)


async def _refused_checkpoint(pilot: Pilot[None], checkpoint: Path) -> NewJobScreen:
    """The form, filled for mlp with ``checkpoint`` and sent, once its check refused it."""
    form = await open_form(pilot)
    form.set_value("model", "mlp")
    form.set_value("checkpoint", str(checkpoint))
    form.set_value("x", "-1:1:3")
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: "checkpoint" in form.errors, 60, "the check's reason")
    return form


async def _queue_with_a_misfit_checkpoint(fixed_home: Path, checkpoint: Path) -> None:
    app = fixed_app(fixed_home)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _refused_checkpoint(pilot, checkpoint)
        assert isinstance(app.screen, NewJobScreen), "the form stays open"
        assert "does not fit model 'mlp'" in form.errors["checkpoint"]
        assert form.query_one("#error-checkpoint", Static).display
        assert not form.checking
        form.set_value("model", "cnn")
        form.set_value("name", "the first")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewJobScreen), 60, "the form to close")
        await wait_for(pilot, lambda: not app.actions_running(), 30, "the job queued")
        # the next form opens with the values of the job it queued (a person's factory and
        # data were typed again each time)
        again = await open_form(pilot)
        assert again is not form
        assert (again.values()["model"], again.values()["checkpoint"], again.values()["x"]) == (
            "cnn", str(checkpoint), "-1:1:3")
        assert again.values()["name"] == "", "a name names one job: the next did not take it too"
        await pilot.press("escape")


def _fill(form: NewJobScreen, name: str) -> None:
    form.set_value("model", "mlp")
    form.set_value("x", "-1:1:3")
    form.set_value("y", "-1:1:3")
    form.set_value("subset", "100")
    form.set_value("name", name)


def test_queueing_while_another_process_writes_waits_with_the_form_open(fixed_home: Path) -> None:
    """The form closed at once, then nothing for 30 s, then a toast, and every typed
    value was gone. Now it says at once that it waits, and closes once queued; enter in
    the first field (where the focus starts) queues. With more jobs than the table
    shows, the new one is selected and scrolled into view."""
    with Store.open_home(fixed_home) as store:
        for n in range(4):
            submit_spec(store, tiny_spec(f"more {n}"))
    holder = sqlite3.connect(fixed_home / "lstui.db", isolation_level=None)
    try:
        asyncio.run(_queue_while_locked(fixed_home, holder))
    finally:
        holder.close()
    with Store.open_home(fixed_home) as store:
        assert store.list_jobs()[-1].name == "waited"


async def _queue_while_locked(fixed_home: Path, holder: sqlite3.Connection) -> None:
    app = fixed_app(fixed_home)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        assert app.focused is form.query_one("#field-model"), "enter in a text field queues"
        _fill(form, "waited")
        title = form.query_one("#form-title", Static)
        holder.execute("BEGIN IMMEDIATE")  # another process's write, still going on
        try:
            await pilot.press("enter")
            await wait_for(pilot, lambda: WAITING in str(title.render()), 20, "the waiting title")
            assert ("information", WAITING) in app.notices
            await pilot.pause(0.5)
            assert app.screen is form, "open while it waits"
        finally:
            holder.execute("ROLLBACK")
        await wait_for(pilot, lambda: app.screen is not form, 30, "the form to close")
        await wait_for(pilot, lambda: not app.actions_running(), 30, "the job queued")
        assert app.notices[-1][1].startswith("queued job 12: ")
        await wait_for(pilot, lambda: app.main.table.selected_job_id() == 12, 10, "the new job selected")
        await wait_for(pilot, lambda: any(line.split()[:2] == ["12", "waited"] for line in screen_text(app)), 5,
                       "its row in view")


def test_queueing_that_fails_on_a_locked_database_keeps_the_form_and_its_values(fixed_home: Path) -> None:
    holder = sqlite3.connect(fixed_home / "lstui.db", isolation_level=None)
    try:
        asyncio.run(_queue_until_it_fails(fixed_home, holder))
    finally:
        holder.close()
    with Store.open_home(fixed_home) as store:
        assert [j.name for j in store.list_jobs()][-1] == "kept"


async def _queue_until_it_fails(fixed_home: Path, holder: sqlite3.Connection) -> None:
    app = fixed_app(fixed_home, write_timeout_s=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        _fill(form, "kept")
        typed = form.values()
        holder.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: GENERAL in form.errors, 30, "the reason")
        finally:
            holder.execute("ROLLBACK")
        assert "is locked by another process" in form.errors[GENERAL]
        assert app.screen is form and form.values() == typed, "every typed value is still there"
        assert form.query_one(f"#error-{GENERAL}", Static).display
        assert not form.checking
        await pilot.press("ctrl+s")  # the database is free again
        await wait_for(pilot, lambda: app.screen is not form, 30, "the form to close")
        await wait_for(pilot, lambda: not app.actions_running(), 30, "the job queued")


def test_a_trajectory_is_queued_from_the_form_on_the_plane_the_cli_would_make(
    fixed_home: Path, tmp_path: Path
) -> None:
    """The form offered surfaces and interpolations only: a trajectory needs its PCA plane
    before it is queued. It is computed in the form's thread, as `submit trajectory` does."""
    from tests.faults.support import cli_in_process

    for seed in range(4):
        torch.manual_seed(seed)
        torch.save({"state_dict": build_model("cnn", input_shape=(1, 8, 8)).state_dict()},
                   tmp_path / f"model_{seed}.pt")
    _, errors = validate_form({"kind": "trajectory", "checkpoints": str(tmp_path / "nope_*.pt")})
    assert "matches no file" in errors["checkpoints"]
    _, errors = validate_form({"kind": "trajectory", "checkpoints": f"{tmp_path / 'model_0.pt'},{tmp_path / 'no.pt'},x"})
    assert "no such file" in errors["checkpoints"] and GENERAL not in errors
    spec, errors = validate_form({"kind": "trajectory", "checkpoints": str(tmp_path / "model_*.pt"),
                                  "checkpoint": "/left/from/a/surface.pt", "x": ""})
    assert errors == {} and spec is not None and spec.checkpoint is None and len(spec.checkpoints) == 4

    with Store.open_home(fixed_home) as store:
        before = {job.id for job in store.list_jobs()}

    async def drive() -> None:
        from textual.widgets import Input, Select

        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            form = await open_form(pilot)
            form.query_one("#field-kind", Select).value = "trajectory"
            await wait_for(pilot, lambda: form.values()["x"] == ""
                           and "path's extent" in form.query_one("#field-x", Input).placeholder, 5,
                           "the trajectory's fields")
            for key, shown in (("checkpoint", False), ("checkpoint_b", False), ("norm", False),
                               ("checkpoints", True)):
                row = form.query_one(f"#field-{key}").parent
                assert row is not None and row.display is shown, key
            form.set_value("checkpoints", str(tmp_path / "model_*.pt"))
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: not isinstance(app.screen, NewJobScreen), 120, "the form to close")
            await wait_for(pilot, lambda: not app.actions_running(), 30, "the job queued")
            said.extend(message for _, message in app.notices)

    said: list[str] = []
    asyncio.run(drive())
    with Store.open_home(fixed_home) as store:
        (job,) = [job for job in store.list_jobs() if job.id not in before]
    assert job.kind == "trajectory"
    # the toast names the job, as a surface's does ("queued job 7: a trajectory" did not)
    assert any(message.startswith(f"queued job {job.id}: {job.name}\n") for message in said), said
    assert job.spec["checkpoint"] == str(tmp_path / "model_3.pt")
    plane = Path(job.spec["dir_file"])
    assert plane.parent.parent == fixed_home / "trajectories" and (plane.parent / "projection.h5").is_file()
    # the same run queued by the CLI: the same grid over its path
    got, out, err = cli_in_process(["submit", "trajectory", "--checkpoints", str(tmp_path / "model_*.pt")],
                                   fixed_home)
    assert got == 0, err
    with Store.open_home(fixed_home) as store:
        cli_job = store.get_job(int(out.split()[-1]))
    assert (cli_job.spec["x"], cli_job.spec["y"], cli_job.spec["norm"]) == (job.spec["x"], job.spec["y"], "none")
    assert job.spec["norm"] == "none" and job.spec["ignore"] == cli_job.spec["ignore"]


def test_a_trajectory_the_cli_refuses_keeps_the_form_and_ctrl_c_stops_its_planning(
    fixed_home: Path, tmp_path: Path
) -> None:
    """The trajectory is queued by `lstui submit trajectory` in a process of its own: its
    refusal goes under the form, and quitting while it plans stops it (the PCA ran on in
    the TUI's own process, which would not end until it had)."""

    for seed in range(3):
        torch.manual_seed(seed)
        torch.save({"state_dict": build_model("cnn", input_shape=(1, 8, 8)).state_dict()},
                   tmp_path / f"model_{seed}.pt")
    with Store.open_home(fixed_home) as store:
        before = len(store.list_jobs(include_finished=True))

    async def drive(quit_early: bool) -> float:
        from textual.widgets import Select

        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            form = await open_form(pilot)
            form.query_one("#field-kind", Select).value = "trajectory"
            await pilot.pause(0.1)
            form.set_value("checkpoints", str(tmp_path / "model_*.pt"))
            # refused: the checkpoints are a cnn's; quit early: a job that would be queued
            form.set_value("model", "cnn" if quit_early else "mlp")
            await pilot.press("ctrl+s")
            if quit_early:
                await wait_for(pilot, lambda: form.stage == "planning", 10, "the planning")
                began = time.monotonic()
                await pilot.press("ctrl+c")
                await wait_for(pilot, lambda: not app.is_running, 15, "the app to end")
                return time.monotonic() - began
            await wait_for(pilot, lambda: "checkpoints" in form.errors or "form" in form.errors, 120, "the refusal")
            assert isinstance(app.screen, NewJobScreen)
            reason = form.errors.get("checkpoints") or form.errors["form"]
            assert "mlp" in reason, reason
            await pilot.press("escape")
            return 0.0

    asyncio.run(drive(False))
    assert asyncio.run(drive(True)) < 10
    time.sleep(5)  # as long as its planning would have taken to queue it
    with Store.open_home(fixed_home) as store:
        assert len(store.list_jobs(include_finished=True)) == before
    planes = fixed_home / "trajectories"
    assert not planes.exists() or not list(planes.iterdir()), list(planes.iterdir())


def test_a_reason_goes_under_a_shown_field_not_one_the_kind_hides(fixed_home: Path, tmp_path: Path) -> None:
    """A surface's checkpoint left in its (now hidden) field when the kind became a
    trajectory: the trajectory's misfit checkpoint, the same file, was said under "model",
    the arrow pointing at the hidden row."""
    from textual.widgets import Select

    for seed in range(2):
        torch.manual_seed(seed)
        torch.save({"state_dict": build_model("cnn", input_shape=(1, 8, 8)).state_dict()},
                   tmp_path / f"model_{seed}.pt")
    misfit = tmp_path / "model_2.pt"
    torch.save({"state_dict": build_model("mlp", input_shape=(1, 8, 8)).state_dict()}, misfit)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            form = await open_form(pilot)
            form.set_value("model", "cnn")
            form.set_value("checkpoint", str(misfit))
            form.query_one("#field-kind", Select).value = "trajectory"
            await wait_for(pilot, lambda: not form.query_one("#field-checkpoint").parent.display, 5,  # type: ignore[union-attr]
                           "the checkpoint hidden")
            form.set_value("checkpoints", str(tmp_path / "model_*.pt"))
            form.set_value("x", "")
            form.set_value("y", "")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: bool(form.errors), 60, "the check's reason")
            assert list(form.errors) == ["checkpoints"], form.errors
            assert "does not fit model 'cnn'" in form.errors["checkpoints"] and str(misfit) in form.errors["checkpoints"]
            await pilot.press("escape")

    asyncio.run(drive())


def test_a_reason_below_the_fold_is_scrolled_into_view(fixed_home: Path) -> None:
    """At 100×30 the form, its fields spaced, fills its box: a priority's reason sat under
    the last row in view, and enter seemed to do nothing."""
    from textual.widgets import Select

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(100, 30)) as pilot:
            form = await open_form(pilot)
            assert form.query_one("#field-kind", Select).value == "surface"
            form.set_value("priority", "abc")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: list(form.errors) == ["priority"], 10, "the priority's reason")
            await wait_for(pilot, lambda: any("↑ priority 'abc' is not a whole number" in line
                                              for line in screen_text(app)), 5, "the reason on screen")
            await pilot.press("escape")

    asyncio.run(drive())


def test_a_job_the_form_queues_again_is_said_to_compute_the_same_numbers(fixed_home: Path) -> None:
    """`lstui submit` said it; the form queued the same job twice without a word."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            for name in ("first", "again"):
                form = await open_form(pilot)
                _fill(form, name)
                await pilot.press("ctrl+s")
                await wait_for(pilot, lambda f=form: app.screen is not f, 30, "the form to close")  # type: ignore[misc]
                await wait_for(pilot, lambda: not app.actions_running(), 30, "the job queued")
            await wait_for(pilot, lambda: "computes the same" in "\n".join(screen_text(app)), 10, "the note")
            shown = "\n".join(screen_text(app))
            first = app.main.table.row_count  # (its id: the jobs before it, and itself)
            assert f"job {first - 1} (queued) computes the same" in shown, shown
            assert f"as job {first}: it" in shown and "(c cancels it)" in shown, shown

    asyncio.run(drive())


def test_a_whole_pickled_model_in_the_form_says_the_cli_trusts_it(fixed_home: Path, tmp_path: Path) -> None:
    """The reason said "--trust-checkpoint loads it", a flag the form has not."""
    checkpoint = tmp_path / "whole.pt"
    torch.save(build_model("mlp", input_shape=(1, 8, 8)), checkpoint)

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            said = (await _refused_checkpoint(pilot, checkpoint)).errors["checkpoint"]
            assert "--trust-checkpoint loads it" in said, said
            assert said.endswith("; the form trusts no file: queue it with lstui submit … --trust-checkpoint"), said
            await pilot.press("escape")

    asyncio.run(drive())
