"""TOML job files: reviewable, versioned experiment definitions (``lstui submit FILE``).

A file holds one job as top-level keys, or several as ``[[job]]`` tables; ``[defaults]``
gives keys shared by all. Keys are JobSpec fields (``x = "-1:1:51"``) plus ``unit_size``,
or the reference's names the flags take too (``xnorm``: :data:`ALIASES`, :data:`Y_KEYS`), with the defaults of ``lstui submit KIND`` (an interpolation's ``dir_type = "states"``).
Relative paths are read relative to the file; ``checkpoints`` may hold globs, as
``--checkpoints`` does.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstui.errors import BadInput, SpecError
from lstui.landscape.options import ORIGINS
from lstui.spec import (
    INTERNAL_KEYS,
    MAX_UNIT_SIZE,
    UNUSED_KEYS,
    JobSpec,
    kind_defaults,
    refuse_unused,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_FILE_BYTES = 1_000_000
MAX_JOBS = 1_000
MAX_KEY_PARTS = 32
"""Dotted keys (``a.b.c = 1``, ``[a.b.c]``) of more parts are refused before parsing:
tomllib's time and memory grow with the square of a key's parts."""

_BARE = r"""[^\s.=\[\]{},#"']"""
_KEY_PART = rf"""(?:"[^"\n]*"|'[^'\n]*'|{_BARE}+)"""
# Starts only where no bare-key character precedes, so the search stays linear.
_LONG_DOTTED_KEY = re.compile(rf"(?<!{_BARE})(?:{_KEY_PART}[ \t]*\.[ \t]*){{{MAX_KEY_PARTS}}}")


@dataclass(frozen=True)
class JobEntry:
    spec: JobSpec
    unit_size: int | None = None
    where: str = ""
    """Which job of which file (``jobs.toml job 2``), for the messages about it."""
    axes_given: tuple[bool, bool] = (True, True)
    """Whether the job's table gave ``x`` and ``y``: a trajectory's grid otherwise
    covers its path (:func:`lstui.scheduler.trajectory.trajectory_spec`)."""
    num: int = 21
    """A trajectory's points per axis when its grid covers its path."""
    origin: str = "own"
    """A trajectory's (0, 0): its own last checkpoint, or its ``dir_file`` plane's origin."""
    base: Path | None = None
    """The file's folder: where its relative paths, and its jobs' own modules, are found."""


ALIASES = {"xnorm": "norm", "xignore": "ignore", "model_file": "checkpoint", "loss_name": "loss",
           "model_file2": "target", "model_file3": "target_y"}
"""The keys of the flags ``submit`` also takes under the reference's names (``--xnorm``)."""
Y_KEYS = {"ynorm": "norm", "yignore": "ignore"}
"""The reference's settings of its y direction: taken when they are the x direction's
(lstui treats both alike), as ``--ynorm`` is."""


def _canonical(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``table`` with the reference's names (:data:`ALIASES`) and values (``xnorm = ""``,
    ``loss_name = "crossentropy"``) as lstui's; a name and its alias both given: refused."""
    values = dict(table)
    for alias, key in ALIASES.items():
        if alias in values:
            if key in values:
                raise SpecError(f"{where}: {alias} and {key} are one setting; give one of them")
            values[key] = values.pop(alias)
    # the reference's values, as the flags take them: '' (its default) for no
    # normalisation, nothing ignored; crossentropy for ce
    for key in ("norm", "ignore", *Y_KEYS):
        if values.get(key) == "":
            values[key] = "none"
    if values.get("loss") == "crossentropy":
        values["loss"] = "ce"
    return values


def _entry(defaults: Mapping[str, Any], table: Mapping[str, Any], base: Path, where: str) -> JobEntry:
    """One job: its table over the file's ``[defaults]`` over the defaults of its kind
    (an interpolation's ``states`` directions). A key the kind does not use is refused
    in the job's table and left out from ``[defaults]``, which serves every kind."""
    defaults, table = _canonical(defaults, where), _canonical(table, where)
    kind = table.get("kind", defaults.get("kind", "surface"))
    kind = kind if isinstance(kind, str) else "surface"  # from_dict says what is wrong
    if kind == "figure":
        raise SpecError(f"{where}: figure jobs are queued by lstui compare, not by job files")
    for key in INTERNAL_KEYS:
        if key in table or key in defaults:
            raise SpecError(f"{where}: {key} is lstui's own record of a queued job; drop it")
    try:
        refuse_unused(kind, table)
        for y_key, key in Y_KEYS.items():  # ynorm in an interpolation's table, as norm there
            if y_key in table:
                refuse_unused(kind, {key: table[y_key]}, named=y_key)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    unused = set(UNUSED_KEYS.get(kind, {}))
    if kind == "trajectory":  # a grid in [defaults] is of weight space, not of its PCA plane
        unused |= {"x", "y"}
    unused |= {y_key for y_key, key in Y_KEYS.items() if key in unused}
    values = {**kind_defaults(kind), **{k: v for k, v in defaults.items() if k not in unused}, **table}
    for y_key, key in Y_KEYS.items():
        if y_key in values:
            given, x_value = values.pop(y_key), values.get(key, JobSpec.__dataclass_fields__[key].default)
            if given != x_value:
                raise SpecError(f"{where}: {y_key} = {given!r}: lstui treats both directions alike, "
                                f"with {key} ({x_value!r}); give {key} = {given!r}, or the same to both")
    num = values.pop("num", 21)
    if kind != "trajectory" and "num" in table:
        raise SpecError(f"{where}: num is for trajectory jobs (points per axis over the path)")
    origin = values.pop("origin", "own")
    if kind != "trajectory" and "origin" in table:
        raise SpecError(f"{where}: origin is for trajectory jobs (where (0, 0) of their plane is)")
    if origin not in ORIGINS:
        raise SpecError(f"{where}: origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
    if not isinstance(num, int) or isinstance(num, bool) or not 2 <= num <= 1001:
        raise SpecError(f"{where}: num must be a whole number from 2 to 1001")
    if kind == "trajectory" and isinstance(values.get("checkpoints"), str | list):
        values["checkpoints"] = _checkpoints(values["checkpoints"], base, where)
    unit_size = values.pop("unit_size", None)
    if unit_size is not None and (not isinstance(unit_size, int) or isinstance(unit_size, bool)
                                  or not 1 <= unit_size <= MAX_UNIT_SIZE):
        raise SpecError(f"{where}: unit_size must be a whole number from 1 to {MAX_UNIT_SIZE}")
    try:
        spec = JobSpec.from_dict(values, base=base, extra_keys=("unit_size", "num", "origin")).checked_size()
    except BadInput as exc:  # a malformed grid too
        raise type(exc)(f"{where}: {exc}") from None
    return JobEntry(spec, unit_size, where, ("x" in table, "y" in table), num, base=base, origin=origin)


def _checkpoints(value: str | list[Any], base: Path, where: str) -> list[str]:
    """A trajectory's ``checkpoints`` (a glob, a list of paths and globs) expanded as
    ``--checkpoints`` is, relative to the job file's folder: each item taken whole first
    (a sweep's folders are named like ``lr=0.1,bs=128``), then as a comma-separated list."""
    from lstui.scheduler.trajectory import expand_checkpoints

    items = [value] if isinstance(value, str) else value
    if not all(isinstance(item, str) for item in items):
        raise SpecError(f"{where}: checkpoints must be paths or globs")
    try:
        return expand_checkpoints(items, base=base)
    except BadInput as exc:
        raise type(exc)(f"{where}: {exc}") from None


def read_job_file(path: Path) -> list[JobEntry]:
    """Parse and validate every job of a TOML file (all or nothing)."""
    path = Path(path).expanduser()
    where = f"job file {str(path)!r}"
    try:
        if path.is_dir():  # click said "(see 'lstui submit file --help')", a command it hides
            raise SpecError(f"{where} is a folder: give job files (.toml), or a kind: "
                            "lstui submit surface|interp|trajectory …")
        if not path.is_file():
            kinds = ("surface", "interp", "trajectory")
            close = difflib.get_close_matches(path.name, kinds, n=1, cutoff=0.6) if not path.suffix else []
            hint = f" (did you mean 'lstui submit {close[0]}'?)" if close else ""
            raise SpecError(f"{where} does not exist or is not a file{hint}")
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{where} cannot be read ({exc.strerror})") from None
    except ValueError as exc:  # a NUL byte in the path
        raise SpecError(f"{where} is not a usable path ({exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError(f"{where} is larger than {MAX_FILE_BYTES // 1000} kB")
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (a Windows editor's) before the TOML
    except UnicodeDecodeError:
        raise SpecError(f"{where} is not UTF-8 text") from None
    if _LONG_DOTTED_KEY.search(text):
        raise SpecError(f"{where} has a dotted key of more than {MAX_KEY_PARTS} parts")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where} is not valid TOML: {exc}") from None
    except RecursionError:
        raise SpecError(f"{where} nests arrays or tables too deeply") from None
    base = path.parent.resolve()
    defaults = data.pop("defaults", {})
    if not isinstance(defaults, dict):
        raise SpecError(f"{path}: [defaults] must be a table")
    jobs = data.pop("job", None)
    if jobs is None:
        if not data:
            raise SpecError(
                f"{path}: the file holds no job; give keys at the top for one job "
                "or [[job]] tables for several"
            )
        tables = [data]
    else:
        if data:
            raise SpecError(f"{path}: with [[job]] tables, put shared keys under [defaults], not at the top ({sorted(data)[0]!r})")
        if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
            raise SpecError(f"{path}: 'job' must be an array of tables ([[job]])")
        tables = jobs
    if not tables or len(tables) > MAX_JOBS:
        raise SpecError(f"{path}: a job file holds 1 to {MAX_JOBS} jobs")
    return [
        _entry(defaults, t, base, f"{path.name} job {n + 1}") for n, t in enumerate(tables)
    ]
