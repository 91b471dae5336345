"""Hostile input: whatever a person types or a file holds gets a clear error or a sane
result, never a traceback and never a file outside ``$LSTUI_HOME/results``.

Property-based (hypothesis) where the input space is open: grid specs, TOML job files,
spec dicts, the TUI form, CLI flags and job names; hand-made for malformed, oversized,
deeply nested and binary job files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lstui.errors import BadInput, GridError
from lstui.jobfile import MAX_FILE_BYTES, read_job_file
from lstui.landscape.grid import MAX_AXIS_POINTS, MAX_COORDINATE, Axis, parse_axis
from lstui.scheduler.submit import submit_spec
from lstui.spec import JobSpec
from lstui.store import Store
from lstui.tui.form import FIELD_KEYS, GENERAL, validate_form
from tests.faults.support import cli_in_process, one_error_line

FIELDS = [f.name for f in dataclasses.fields(JobSpec)]
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
"""Any text (lone surrogates cannot be encoded, so no file or terminal ever holds them)."""
plausible = st.sampled_from(
    ["-1:1:5", "0:1:3", "digits", "mlp", "cnn", "filter", "train", "test", "both", "150",
     "0.5", "surface", "interp", "figure", "weights", "states", "fp32", "../../x", "~", ""]
)  # fmt: skip
scalars = st.one_of(text, plausible, st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
keys = st.one_of(st.sampled_from([*FIELDS, "unit_size"]), text.filter(bool))
tables = st.dictionaries(keys, values, max_size=6)
quick = settings(max_examples=150, deadline=None)


def _assert_round_trip(spec: JobSpec) -> None:
    """What the store keeps (JSON) validates again to the same spec, as a worker reads it."""
    again = JobSpec.from_dict(json.loads(json.dumps(spec.to_dict(), sort_keys=True)))
    assert again == spec


# -- grid specs -----------------------------------------------------------------------


number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**400), 10**400).map(str),
    st.from_regex(r"[-+]?[0-9]{0,3}\.?[0-9]{0,3}([eE][-+]?[0-9]{1,4})?", fullmatch=True),
)
grid_text = st.one_of(
    text,
    st.tuples(number, number, st.one_of(number, text)).map(":".join),
    st.tuples(number, number, st.integers(-3, MAX_AXIS_POINTS + 3)).map(
        lambda t: f" {t[0]} :{t[1]}: {t[2]} "
    ),
)


@quick
@given(grid_text)
@example("1.0000001:1.0000002:5")
@example("1e-320:2e-320:3")
@example("-1:1:10001")
@example("0:1e400:3")
@example("-1e39:1e39:3")  # past float32: queued, then every point failed in the worker
def test_any_text_is_a_valid_axis_or_a_grid_error(spec: str) -> None:
    try:
        axis = parse_axis(spec, "--x")
    except GridError as exc:
        assert "--x" in str(exc) and "\n" not in str(exc)
        return
    assert isinstance(axis, Axis)
    assert math.isfinite(axis.min) and math.isfinite(axis.max) and axis.min < axis.max
    assert max(abs(axis.min), abs(axis.max)) <= MAX_COORDINATE
    assert 2 <= axis.num <= MAX_AXIS_POINTS
    _assert_round_trip(JobSpec(model="mlp", x=axis).validated())


# -- spec dicts, TOML job files, the TUI form -----------------------------------------


@quick
@given(tables)
def test_any_spec_dict_is_a_valid_spec_or_bad_input(table: dict[str, Any]) -> None:
    try:
        spec = JobSpec.from_dict(table)
    except BadInput as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    _assert_round_trip(spec)


def _toml_key(key: str) -> str:
    return _toml_string(key)


def _toml_string(value: str) -> str:
    # a JSON string is a TOML basic string, but for DEL, which TOML wants escaped
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml_table(table: dict[str, Any]) -> str:
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in table.items())


job_files = st.one_of(
    tables.map(_toml_table),
    st.tuples(tables, st.lists(tables, min_size=1, max_size=3)).map(
        lambda t: "[defaults]\n" + _toml_table(t[0])
        + "".join("[[job]]\n" + _toml_table(j) for j in t[1])
    ),
    text,
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(job_files)
@example('model = "mlp"\nx = "-1:1:5"\nsubset = 150\n')
@example('kind = "figure"\nfigure = {when = 1979-05-27}\n')
@example('[[job]]\nmodel = "mlp"\n[[job]]\nname = "a\\u0000b"\n')
def test_any_toml_job_file_is_valid_jobs_or_bad_input(tmp_path: Path, content: str) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(content, encoding="utf-8")
    try:
        entries = read_job_file(path)
    except BadInput as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return
    assert entries
    for entry in entries:
        _assert_round_trip(entry.spec)
        assert entry.unit_size is None or entry.unit_size >= 1


@quick
@given(st.dictionaries(st.sampled_from(FIELD_KEYS), text))
@example({"checkpoint": "a\x00b"})
@example({"checkpoint": "~nosuchuser/x.pt"})
@example({"checkpoint": "0\n~"})  # (the path looked at, shown with its newline, was two lines)
@example({"x": "1.0000001:1.0000002:5"})
def test_any_form_input_is_a_spec_or_reasons_per_field(fields: dict[str, str]) -> None:
    spec, errors = validate_form(fields)
    if spec is not None:
        assert errors == {}
        _assert_round_trip(spec)
    else:
        assert errors and set(errors) <= {*FIELD_KEYS, GENERAL}
        assert all(isinstance(e, str) and e and "\n" not in e for e in errors.values())


# -- the real command line ------------------------------------------------------------

FLAGS = ["--x", "--y", "--subset", "--seed", "--batch-size", "--priority", "--name",
         "--norm", "--model", "--data", "--data-split", "--checkpoint", "--split"]  # fmt: skip
flag_values = st.one_of(
    text.filter(lambda s: "\x00" not in s),  # argv cannot hold NUL
    st.integers().map(str),
    plausible,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(FLAGS), flag_values), min_size=1, max_size=4))
@example([("--seed", str(2**64))])
@example([("--priority", str(10**30))])
@example([("--subset", "lots")])
@example([("--name", "tab\there")])
def test_random_flags_queue_a_job_or_get_one_line_and_exit_2(
    tmp_path: Path, flags: list[tuple[str, str]]
) -> None:
    home = tmp_path / "home"
    argv = ["submit", "surface", "--model", "mlp", "--x", "-1:1:3"]
    for flag, value in flags:
        argv += [flag, value]
    code, out, err = cli_in_process(argv, home)
    if code == 0:
        assert out.strip().isdigit(), (out, err)
        return
    assert code == 2, (argv, code, err)
    one_error_line(err)
    assert len(err.strip().splitlines()) == 1, err


# -- malformed and oversized job files ------------------------------------------------


def _deep_arrays(depth: int) -> bytes:
    return ("x = " + "[" * depth + "]" * depth + "\n").encode()


BAD_FILES = {
    "larger than 1 MB": (b"# " + b"x" * MAX_FILE_BYTES + b"\n", "larger than"),
    "deeply nested arrays": (_deep_arrays(100_000), "too deeply"),
    "deeply nested tables": (
        ("x = " + "{a = " * 50_000 + "1" + "}" * 50_000 + "\n").encode(),
        "too deeply",
    ),
    "a dotted key of 100,000 parts": (("a" + ".a" * 100_000 + " = 1\n").encode(), "dotted key"),
    "binary garbage": (bytes((n * 131 + 7) % 256 for n in range(4096)), "not UTF-8"),
    "NUL bytes": (b'model = "mlp"\x00\x00\n', "not valid TOML"),
    "UTF-16": ('model = "mlp"\n'.encode("utf-16"), "not UTF-8"),
    "empty": (b"", "holds no job"),
    "only defaults": (b'[defaults]\nmodel = "mlp"\n', "holds no job"),
    "1,001 jobs": (b'[[job]]\nmodel = "mlp"\n' * 1001, "1 to 1000"),
    "a job table that is not a table": (b"job = 3\n", "array of tables"),
    "an unknown key": (b'modle = "mlp"\n', "unknown key 'modle'"),
    "a date for a grid": (b"x = 1979-05-27\n", "x must be a string MIN:MAX:NUM, as x = \"-1:1:51\"; got date 1979-05-27"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_malformed_job_files_are_one_line_and_queue_nothing(tmp_path: Path, name: str) -> None:
    content, fragment = BAD_FILES[name]
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    home = tmp_path / "home"
    code, out, err = cli_in_process(["submit", str(path)], home)
    assert code == 2, err
    assert fragment in one_error_line(err)
    assert out == ""
    with Store.open_home(home) as store:
        assert store.list_jobs() == []


def test_a_folder_or_a_missing_file_as_job_file_is_one_line(tmp_path: Path) -> None:
    code, _, err = cli_in_process(["submit", str(tmp_path / "missing.toml")], tmp_path / "home")
    assert code == 2
    assert "does not exist or is not a file" in one_error_line(err)
    code, _, err = cli_in_process(["submit", str(tmp_path)], tmp_path / "home")
    assert code == 2
    assert one_error_line(err).endswith("is a folder: give job files (.toml), or a kind: lstui submit "
                                        "surface|interp|trajectory …"), err  # not "see 'lstui submit file --help'"


def test_lstui_priority_with_a_huge_value_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, err = cli_in_process(["submit", "surface", "--model", "mlp"], home)
    assert code == 0, err
    code, _, err = cli_in_process(["priority", out.split()[-1], str(10**30)], home)
    assert code == 2
    assert "priority" in one_error_line(err)


# -- names: no escape from the results folder, no control characters ----------------

SAFE_FOLDER = re.compile(r"\d{5}-[A-Za-z0-9._-]+")


def _inside_results(home: Path, results_dir: Path) -> None:
    results = (home / "results").resolve()
    folder = Path(results_dir).resolve()
    assert folder.parent == results, folder
    assert SAFE_FOLDER.fullmatch(folder.name), folder.name


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text)
@example("../../x")
@example("/etc/passwd")
@example("..")
@example("a/../../../../b")
@example("\x1b[31mred\x1b[0m")
@example("line\nbreak")
@example("rtl\u202eexe.txt")
@example("\u0085next line")
def test_any_name_stays_inside_the_results_folder(
    tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    home = tmp_path_factory.mktemp("names")
    try:
        spec = JobSpec(model="mlp", x=parse_axis("-1:1:3"), name=name).validated()
    except BadInput:
        assert (
            any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" or c in BIDI for c in name)
            or len(name) > 80
        )
        return
    with Store.open_home(home) as store:
        job = store.get_job(submit_spec(store, spec))
    _inside_results(home, job.results_dir)
    assert job.name.isprintable() or job.name == ""


@pytest.mark.parametrize("name", ["../../x", "../" * 20 + "etc/passwd", "/tmp/abs", "..", "."])
def test_a_path_as_name_on_the_command_line_stays_inside(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    code, out, err = cli_in_process(["submit", "surface", "--model", "mlp", "--name", name], home)
    assert code == 0, err
    with Store.open_home(home) as store:
        _inside_results(home, store.get_job(int(out.split()[-1])).results_dir)


BIDI = "\u200b\u2060\ufeff\u00ad\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize("name", ["a\x1b]0;pwned\x07b", "two\nlines", "nul\x00", "c1\x9bcontrol",
                                  "rtl\u202eexe.txt", "isolate\u2067x\u2069", "arabic mark\u061c",
                                  "zero\u200bwidth", "bom\ufeff", "soft\u00adhyphen"])
def test_control_characters_in_a_name_are_one_line_exit_2(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    argv = ["submit", "surface", "--model", "mlp", "--name", name]
    code, _, err = cli_in_process(argv, home)
    assert code == 2
    assert "--name" in one_error_line(err)
    assert not (home / "results").exists()


def test_a_home_whose_path_is_too_long_for_sqlite_is_said_so(tmp_path: Path) -> None:
    """SQLite opens no path over 512 bytes: the store was called "damaged or not an lstui
    database", with the advice to move it aside, and an empty lstui.db was left there."""
    from lstui.store import DB_NAME
    from lstui.store._store import MAX_PATH_BYTES

    home = tmp_path
    while len(str(home / DB_NAME)) <= MAX_PATH_BYTES:
        home = home / ("d" * 100)
    code, out, err = cli_in_process(["submit", "surface", "--model", "mlp", "--x", "-1:1:3"], home)
    assert code == 1 and out == "", (code, out)
    assert one_error_line(err).startswith(f"lstui: error: the path of database {home / DB_NAME} is "), err
    assert "give lstui a home with a shorter path" in err and "damaged" not in err, err
    assert "symlinks" not in err, err  # (none here)
    assert not (home / DB_NAME).exists()
    # `..` in it is no symlink: it was said to be one ("(symlinks resolved)")
    home.mkdir(parents=True)
    dotted = home.parent / ".." / home.parent.name / home.name
    code, out, err = cli_in_process(["submit", "surface", "--model", "mlp", "--x", "-1:1:3"], dotted)
    assert code == 1 and f"database {home / DB_NAME} is " in err and "symlinks" not in err, err
    shorter = home.parent.parent / DB_NAME  # a path just short enough works
    assert len(str(shorter)) <= MAX_PATH_BYTES
    code, out, err = cli_in_process(["submit", "surface", "--model", "mlp", "--x", "-1:1:3"], home.parent.parent)
    assert code == 0, err


def test_a_name_of_another_encoding_s_bytes_is_said_to_be_not_utf8(tmp_path: Path) -> None:
    """`--name $'caf\\xe9'` from a Latin-1 terminal was refused as "at most 80 printable
    characters without control characters", which it is; the bytes are the trouble."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "lstui.cli", "submit", "surface", "--model", "mlp", "--name",
                           b"caf\xe9 latin1"], env={**os.environ, "LSTUI_HOME": str(tmp_path / "home")},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert one_error_line(done.stderr) == ("lstui: error: --name is not UTF-8 text: it holds a byte of another "
                                          "encoding (a Latin-1 terminal's é?); give it in UTF-8"), done.stderr
