"""Keys typed ahead (or pasted) reach the widget they were meant for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input

from lstui.store import JobState, Store
from lstui.tui.screens import MainScreen
from tests.tui.support import fixed_app, settle


def _burst(app: object, text: str) -> None:
    """Keys as a terminal delivers typed-ahead or pasted text: all queued at once,
    before the app has handled the first."""
    from textual import events
    from textual.keys import _character_to_key

    for ch in text:
        key = "enter" if ch == "\r" else _character_to_key(ch)
        app.post_message(events.Key(key, None if ch == "\r" else ch))  # type: ignore[attr-defined]


def test_keys_typed_ahead_after_slash_go_into_the_filter(fixed_home: Path) -> None:
    """``/surface queued`` typed fast: the letters once reached the table's bindings
    (``r`` retried, ``c`` asked to cancel and the space answered yes)."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            _burst(app, "/surface queued\r")
            await pilot.pause(0.5)
            assert isinstance(app.screen, MainScreen)
            assert app.main.table.filter_text == "surface queued"
            assert not app.actions_running() and not [m for s, m in app.notices if s != "information"]
            await pilot.press("escape")
            _burst(app, "/a/b")  # the first opens the filter, the second is typed into it
            await pilot.pause(0.3)
            assert app.main.query_one("#filter", Input).value == "a/b"
        with Store.open_home(fixed_home) as store:
            assert store.get_job(2).state is JobState.RUNNING

    asyncio.run(drive())


def test_a_key_typed_ahead_after_c_never_answers_yes(fixed_home: Path) -> None:
    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            _burst(app, "cedq\r")
            await pilot.pause(0.5)
            assert not any(m.startswith("job 2:") for _, m in app.notices), "enter answered yes"
        with Store.open_home(fixed_home) as store:
            assert store.get_job(2).state is JobState.RUNNING

    asyncio.run(drive())
