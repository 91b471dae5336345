"""Fixtures for the TUI tests: a fixed store (no daemon) and a home with a live daemon."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lstui.scheduler.daemon import start_daemon, stop_daemon
from tests.tui.support import build_fixed_store, holding_daemon_lock


@pytest.fixture(autouse=True)
def a_truecolour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's colours do not depend on the terminal the tests run from: a 16-colour
    one (TERM=xterm, or none) draws the map's bands in characters, a 256-colour one in
    palette colours of its own."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "truecolor")


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC, so clock times in snapshots do not depend on the machine."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def stopped_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, utc: None) -> Path:
    """The fixed store at ``~/home`` (HOME is the test's tmp_path, so paths
    show as ``~/home/…`` whatever the machine), with no daemon: as after the daemon was
    killed, its two running jobs are stalled."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return build_fixed_store(tmp_path / "home")


@pytest.fixture
def fixed_home(stopped_home: Path) -> Iterator[Path]:
    """The fixed store with its daemon said to run (see :func:`holding_daemon_lock`)."""
    with holding_daemon_lock(stopped_home):
        yield stopped_home


def _import_exporting() -> None:
    import lstui.plots.surfaces  # noqa: F401
    import lstui.scheduler.compute  # noqa: F401


@pytest.fixture(scope="session")
def daemon_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with a daemon running one CPU worker (figures are not exported on finish,
    so a test can tell that the TUI exported them)."""
    home = tmp_path_factory.mktemp("daemon") / "home"
    start_daemon(home, "cpu:1", extra_args=["--export", ""])
    # Exporting imports torch and matplotlib; do it while the worker starts, not in a test.
    threading.Thread(target=_import_exporting, daemon=True).start()
    try:
        yield home
    finally:
        stop_daemon(home)
