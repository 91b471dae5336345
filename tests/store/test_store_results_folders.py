"""A job's results folder is its own, also when an earlier database's job had its id."""

from __future__ import annotations

from pathlib import Path

from lstui.store import Store
from tests.store.support import add_job


def test_a_new_database_does_not_write_into_a_lost_ones_results_folders(tmp_path: Path) -> None:
    """lstui.db emptied (a zero-byte file) or moved aside: ids start again at 1, and job 1's
    folder was the old job 1's, its surface file and figures written over."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        old = store.get_job(add_job(store, tmp_path, name="same"))
    old.results_dir.mkdir(parents=True)
    (old.results_dir / "surface.h5").write_bytes(b"the old job's")
    (home / "lstui.db").write_bytes(b"")  # cut to nothing
    for extra in ("-wal", "-shm"):
        (home / f"lstui.db{extra}").unlink(missing_ok=True)
    with Store.open_home(home) as store:
        new = store.get_job(add_job(store, tmp_path, name="same"))
    assert new.id == old.id == 1
    assert new.results_dir == old.results_dir.with_name(old.results_dir.name + "-2")
    assert (old.results_dir / "surface.h5").read_bytes() == b"the old job's"
