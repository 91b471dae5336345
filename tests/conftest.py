"""Every test leaves the signal handlers of the test process as it found them."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

_ENDING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@pytest.fixture(autouse=True)
def _signal_handlers_put_back() -> Iterator[None]:
    """The CLI run in this process (``cli_in_process``) sets handlers for the process it
    ends: on "interrupted" it ignores further interrupts, which every child process of
    the later tests inherited (SIGINT ignored: the tests that interrupt a command saw it
    run on)."""
    before = {signum: signal.getsignal(signum) for signum in _ENDING}
    yield
    for signum, handler in before.items():
        if signal.getsignal(signum) is not handler and handler is not None:
            signal.signal(signum, handler)
