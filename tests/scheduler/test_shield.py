"""``signals_held``: a real SIGINT sent to this process waits for the held block (and,
nested, for the outer one), then reaches the handler it had; an ignored one stays so."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from lstui.scheduler.shield import signals_held


class Interrupted(Exception):
    pass


@pytest.fixture
def raising_sigint():
    def handler(_signum, _frame):
        raise Interrupted

    before = signal.signal(signal.SIGINT, handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_an_interrupt_waits_for_the_block_then_reaches_the_handler(raising_sigint):
    done = []
    with pytest.raises(Interrupted):
        with signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")
    assert done == ["after the signal"]


def test_a_hold_inside_a_hold_waits_for_the_outer_block(raising_sigint):
    done = []
    with pytest.raises(Interrupted):
        with signals_held():
            with signals_held():
                os.kill(os.getpid(), signal.SIGINT)
                done.append("inner")
            done.append("outer")  # the inner hold's end delivered nothing
    assert done == ["inner", "outer"]
    with pytest.raises(Interrupted):  # and the handler is the test's again
        os.kill(os.getpid(), signal.SIGINT)


def test_an_ignored_interrupt_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with signals_held():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_outside_the_main_thread_it_holds_nothing(raising_sigint):
    seen = []

    def hold():
        with signals_held():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=hold)
    thread.start()
    thread.join()
    assert seen and seen[0] is not signal.SIG_IGN and callable(seen[0]) and seen[0].__name__ == "handler"
