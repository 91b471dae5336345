"""Keys typed ahead (or pasted) reach the widget they were meant for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input

from lstui.store import JobState, Store
from lstui.tui.screens import MainScreen, NewJobScreen
from tests.tui.support import fixed_app, open_form, settle, wait_for


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
            await wait_for(pilot, lambda: app.main.table.filter_text == "surface queued", 5, "the filter")
            assert isinstance(app.screen, MainScreen)
            assert app.main.table.filter_text == "surface queued"
            assert not app.actions_running() and not [m for s, m in app.notices if s != "information"]
            await pilot.press("escape")
            _burst(app, "/a/b")  # the first opens the filter, the second is typed into it
            await wait_for(pilot, lambda: app.main.query_one("#filter", Input).value == "a/b", 5, "a/b in the filter")
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
            # every key handled before the app leaves (under load one was still queued as
            # the test left, and Textual met it with no screen: "No screens on stack")
            await wait_for(pilot, lambda: app._message_queue.empty() and isinstance(app.screen, MainScreen),
                           20, "the keys handled")
            await pilot.pause(0.2)
            assert not any(m.startswith("job 2:") for _, m in app.notices), "enter answered yes"
        with Store.open_home(fixed_home) as store:
            assert store.get_job(2).state is JobState.RUNNING

    asyncio.run(drive())


def _keys(app: object, *keys: str) -> None:
    """Named keys and characters, all queued at once (see :func:`_burst`)."""
    from textual import events
    from textual.keys import _character_to_key

    for key in keys:
        if len(key) == 1:
            app.post_message(events.Key(_character_to_key(key), key))  # type: ignore[attr-defined]
        else:
            app.post_message(events.Key(key, None))  # type: ignore[attr-defined]


def test_a_backspace_typed_ahead_after_slash_acts_in_its_place(fixed_home: Path) -> None:
    """``/``, backspace and ``abc`` sent at once gave ``ab``: the backspace's binding ran
    after the letters typed behind it."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            box = app.main.query_one("#filter", Input)
            _keys(app, "/", "backspace", "a", "b", "c", "backspace", "d")
            await pilot.pause(0.5)
            await wait_for(pilot, lambda: box.value == "abd", 5, "abd in the filter")

    asyncio.run(drive())


def test_slash_again_refines_the_kept_filter(fixed_home: Path) -> None:
    """``/interp`` enter, then ``/ done`` gave `` done``: the refocused box selected its
    text and the first key replaced it."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"interp", "enter")
            await wait_for(pilot, lambda: app.main.table.filter_text == "interp" and app.focused is app.main.table, 5,
                           "the kept filter")
            await pilot.press("slash", "space", *"done")
            box = app.main.query_one("#filter", Input)
            await wait_for(pilot, lambda: box.value == "interp done" and box.cursor_position == len("interp done")
                           and app.main.table.filter_text == "interp done", 5, "the refined filter")
            assert box.value == "interp done" and box.cursor_position == len("interp done")
            assert app.main.table.filter_text == "interp done"

    asyncio.run(drive())


def test_text_typed_after_a_tab_goes_into_the_next_field_of_the_form(fixed_home: Path) -> None:
    """A tab and text 50 ms behind it put the text in the field before while jobs ran:
    the tab's binding ran only once the key had bubbled back up from the field, behind
    the keys typed after it, which a busy app (a snapshot to apply) had already read."""

    async def drive() -> None:
        app = fixed_app(fixed_home)
        async with app.run_test(size=(80, 24)) as pilot:
            form = await open_form(pilot)
            assert app.focused is form.query_one("#field-model", Input)
            # a field tabbed back into has its text selected (Input's select_on_focus): end first
            _keys(app, "ctrl+u", *"mlp", "tab", *"xyz", "tab", *"uvw", "shift+tab", "end", "backspace", "tab", "end", "q")
            await pilot.pause(0.5)
            await wait_for(pilot, lambda: (form.values()["model"], form.values()["checkpoint"], form.values()["data"])
                           == ("mlp", "xy", "uvwq"), 5, "the text in its fields")
            values = form.values()
            # (checkpoint-b, an interp's, is hidden: data follows checkpoint)
            assert (values["model"], values["checkpoint"], values["data"]) == ("mlp", "xy", "uvwq")
            assert isinstance(app.screen, NewJobScreen)

    asyncio.run(drive())
