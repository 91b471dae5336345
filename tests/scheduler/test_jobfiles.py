"""The example job files in jobs/ parse, and validate where they can."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lstui.errors import SpecError
from lstui.jobfile import read_job_file
from lstui.spec import JobSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

JOBS = Path(__file__).resolve().parents[2] / "jobs"
FILES = sorted(JOBS.glob("*.toml"))


def test_the_examples_are_there() -> None:
    assert {p.name for p in FILES} >= {"resnet56_51x51.toml", "digits_demo.toml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_job_file_starts_with_a_comment_and_validates_but_for_its_files(
    path: Path,
) -> None:
    text = path.read_text()
    assert text.startswith("# "), "each file opens with a comment saying what it is"
    data = tomllib.loads(text)
    defaults = data.pop("defaults", {})
    tables = data.pop("job", None) or [data]
    for table in tables:
        values = {**defaults, **table}
        values.pop("unit_size", None)
        # checkpoints and data folders are the user's, not here: every other check holds
        JobSpec.from_dict(values, base=path.parent, check_files=False)


def test_digits_demo_validates_whole() -> None:
    entries = read_job_file(JOBS / "digits_demo.toml")
    assert [e.spec.model for e in entries] == ["mlp", "cnn"]
    assert all(e.spec.data == "digits" for e in entries)


def test_resnet56_file_is_the_papers_surface_and_asks_for_its_checkpoint() -> None:
    path = JOBS / "resnet56_51x51.toml"
    with pytest.raises(
        SpecError, match=r"--checkpoint '~/checkpoints/.*model_300\.t7' \(/.*/checkpoints/.*model_300\.t7\): no such file"
    ):
        read_job_file(path)
    data = tomllib.loads(path.read_text())
    spec = JobSpec.from_dict(data, check_files=False)
    assert (spec.model, spec.norm, spec.ignore) == ("resnet56", "filter", "biasbn")
    assert spec.grid.shape == (51, 51)
    assert spec.data.startswith("cifar10:") and spec.data.endswith("/data")
    assert "must exist" in path.read_text()


def test_files_and_folders_a_spec_names_must_exist_unless_it_is_read_back(tmp_path: Path) -> None:
    missing = {"model": "cnn", "data": f"cifar10:{tmp_path / 'nope'}", "x": "-1:1:3",
               "checkpoint": str(tmp_path / "gone.pt")}
    with pytest.raises(SpecError, match=r"--checkpoint '.*gone\.pt': no such file"):
        JobSpec.from_dict(missing)
    with pytest.raises(SpecError, match=r"^--data 'cifar10:.*nope': no such folder$"):
        JobSpec.from_dict({**missing, "checkpoint": None})
    # a stored job's spec, read back to draw what it computed: its paths kept as they were
    stored = JobSpec.from_dict(missing, check_files=False)
    assert (stored.data, stored.checkpoint) == (missing["data"], missing["checkpoint"])
    (tmp_path / "nope").mkdir()
    relative = JobSpec.from_dict({"data": "imagefolder:nope", "x": "-1:1:3"}, base=tmp_path)
    assert relative.data == f"imagefolder:{tmp_path / 'nope'}"


@pytest.mark.parametrize(
    ("model", "fragment"),
    [("resnet99", "did you mean resnet56, resnet50, resnet34?"), ("transformer", "built-in name (mlp, cnn,")],
)
def test_an_unknown_builtin_model_is_refused_before_it_is_queued(model: str, fragment: str) -> None:
    with pytest.raises(SpecError) as caught:
        JobSpec(model=model).validated()
    assert str(caught.value).startswith(f"--model: unknown model {model!r}")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    # names of other kinds are checked where the model is built
    for accepted in ("ResNet56", "torchvision:resnet18", "my_pkg.models:factory"):
        assert JobSpec(model=accepted).validated().model == accepted


@pytest.mark.parametrize("value", ["0", "100000", "true", '"8"'])
def test_a_unit_size_out_of_range_names_its_file_and_job(tmp_path: Path, value: str) -> None:
    """``unit_size = 100000`` said "--unit-size must be between 1 and 10000", a flag the
    file has not, and no "s.toml job 1:" as every other key's error has."""
    path = tmp_path / "s.toml"
    path.write_text(f'# one\nmodel = "mlp"\nx = "-1:1:3"\nunit_size = {value}\n')
    with pytest.raises(SpecError, match=r"^s\.toml job 1: unit_size must be a whole number from 1 to 10000$"):
        read_job_file(path)


def test_a_job_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """A file a Windows editor saved with a UTF-8 byte-order mark: "not valid TOML:
    Invalid statement (at line 1, column 1)", with no word of the mark."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[[job]]\nkind = "surface"\nmodel = "mlp"\nx = "-1:1:3"\r\n')
    (entry,) = read_job_file(path)
    assert entry.spec.model == "mlp"


@pytest.mark.parametrize(("line", "said"), [
    ("mpi = true", "unknown key 'mpi' in job spec: lstui spreads a job over every GPU through its daemon "
                   "(lstui daemon start --devices 0,1,…); it has no --mpi"),
    ('x = ["-1:1:5"]', "x must be a string MIN:MAX:NUM, as x = \"-1:1:51\"; got list ['-1:1:5']"),
])
def test_a_reference_setting_or_a_grid_of_another_type_in_a_job_file_says_what_to_do(
    tmp_path: Path, line: str, said: str
) -> None:
    """`mpi = true` got "did you mean 'compile'?"; `x = ["-1:1:5"]` "--x "['-1:1:5']" is
    not a grid spec"."""
    path = tmp_path / "job.toml"
    path.write_text(f'[[job]]\nkind = "surface"\nmodel = "mlp"\n{line}\n')
    with pytest.raises(SpecError) as caught:
        read_job_file(path)
    assert str(caught.value).endswith(said), caught.value
