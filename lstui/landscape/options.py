"""The named choices of the landscape engine (no torch import, so the CLI stays quick)."""

from __future__ import annotations

from collections.abc import Sequence

from lstui.errors import BadInput

DIR_TYPES = ("weights", "states")
NORMS = ("filter", "layer", "weight", "dfilter", "dlayer", "none")
IGNORES = ("biasbn", "none")
SPLITS = ("train", "test", "both")
LOSSES = ("ce", "mse")
PRECISIONS = ("fp32", "tf32", "bf16")
BN_MODES = ("eval", "recompute")
COMPILE_MODES = ("auto", "on", "off")
TRITON_MODES = ("off", "on", "auto")
PROJECTIONS = ("cos", "lstsq")
ORIGINS = ("own", "plane")
"""Where a trajectory's (0, 0) is: its own last checkpoint, or its --dir-file plane's origin."""


def check_choice(value: str, choices: Sequence[str], flag: str) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise a one-line BadInput."""
    if value not in choices:
        raise BadInput(f"{flag} {value!r} is not known; choose one of {', '.join(choices)}")
    return value
