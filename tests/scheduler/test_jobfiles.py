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
def test_every_job_file_starts_with_a_comment_and_validates_but_for_checkpoints(
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
        values.pop("checkpoint", None)  # may name a file of the user's that is not here
        JobSpec.from_dict(values, base=path.parent)


def test_digits_demo_validates_whole() -> None:
    entries = read_job_file(JOBS / "digits_demo.toml")
    assert [e.spec.model for e in entries] == ["mlp", "cnn"]
    assert all(e.spec.data == "digits" for e in entries)


def test_resnet56_file_is_the_papers_surface_and_asks_for_its_checkpoint() -> None:
    path = JOBS / "resnet56_51x51.toml"
    with pytest.raises(
        SpecError, match=r"--checkpoint '~/checkpoints/.*model_300\.t7': no such file"
    ):
        read_job_file(path)
    data = tomllib.loads(path.read_text())
    spec = JobSpec.from_dict({k: v for k, v in data.items() if k != "checkpoint"})
    assert (spec.model, spec.norm, spec.ignore) == ("resnet56", "filter", "biasbn")
    assert spec.grid.shape == (51, 51)
    assert spec.data.startswith("cifar10:") and spec.data.endswith("/data")
    assert "must exist" in path.read_text()
