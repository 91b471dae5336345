"""A job is done when its last point is stored; its surface file and figures come after,
written by the daemon. ``ls --json``, ``show --json`` and ``show`` say which it is."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lstui.cli import cli
from lstui.scheduler.daemon import FINISH_MARK
from lstui.store import Store
from tests.store.support import add_job, finish_job
from tests.tui.support import holding_daemon_lock


def test_a_done_job_says_whether_its_files_are_still_to_be_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        done = add_job(store, tmp_path, points=2, name="done")
        queued = add_job(store, tmp_path, points=2, name="queued")
        cancelled = add_job(store, tmp_path, points=2, name="cancelled")
        store.cancel(cancelled)  # while queued: no point, no folder, nothing to write
        finish_job(store, store.register_worker("cpu", 1, "h"), done)
        row = store.get_job(done)
    Path(row.results_dir).mkdir(parents=True)  # made as it starts
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--home", str(home), *args])
        assert result.exit_code == 0, result.output
        return result.output

    listed = {j["id"]: j for j in json.loads(run("ls", "--all", "--json"))}
    assert (listed[done]["state"], listed[done]["files_pending"]) == ("done", True)
    assert listed[queued]["files_pending"] is None  # not finished: nothing to write yet
    assert listed[cancelled]["files_pending"] is False  # (it was true for ever: no daemon writes a mark)
    assert "files" not in run("show", str(cancelled), "--no-plot").split("results", 1)[1].splitlines()[0]
    assert json.loads(run("show", str(done), "--json"))["files_pending"] is True
    assert "(files not written yet: lstui daemon start writes them)" in run("show", str(done), "--no-plot")
    with holding_daemon_lock(home):
        assert "(files being written by the daemon)" in run("show", str(done), "--no-plot")

    # its folder deleted: nothing writes it again (the daemon handled the job), and
    # `show` said "being written" of it for ever
    Path(row.results_dir).rmdir()
    with holding_daemon_lock(home):
        assert f"(not there: deleted since; lstui export {done} writes its files again)" in run(
            "show", str(done), "--no-plot")
    Path(row.results_dir).mkdir(parents=True, exist_ok=True)  # what the daemon leaves when it is done
    (Path(row.results_dir) / FINISH_MARK).write_text(f"{row.finished!r}\n")
    assert {j["id"]: j for j in json.loads(run("ls", "--all", "--json"))}[done]["files_pending"] is False
    shown = run("show", str(done), "--no-plot")
    assert "files" not in shown.split("results", 1)[1].splitlines()[0]
