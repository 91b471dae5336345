"""Fixtures for the fault tests: the test models, tmp homes, uninterrupted reference runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.support import (
    DIVERGING_SPEC,
    KILL_SPEC,
    Lab,
    write_evil_checkpoint,
    write_fault_models,
    write_fitting_files,
)


@pytest.fixture(scope="session")
def fault_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``fault_models.py`` (on PYTHONPATH of every lab process)."""
    return write_fault_models(tmp_path_factory.mktemp("modules"))


@pytest.fixture
def lab(tmp_path: Path, fault_modules: Path) -> Iterator[Lab]:
    """A fresh home; every daemon and worker started on it is gone afterwards."""
    lab = Lab(tmp_path / "home", fault_modules)
    try:
        yield lab
    finally:
        lab.teardown()


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory, fault_modules: Path) -> Path:
    """The results folder of an uninterrupted ``lstui run`` of :data:`KILL_SPEC`
    (``surface.h5``, ``directions.h5``): the values every interrupted run must reproduce.
    The slow variant of the model has the same weights, so its values are these too."""
    root = tmp_path_factory.mktemp("reference")
    out = root / "out"
    Lab(root / "home", fault_modules).cli(
        "run", "surface", *KILL_SPEC, "--out", str(out), "--device", "cpu", "--no-figure"
    )
    assert (out / "surface.h5").exists()
    return out


@dataclass
class FinishedLab:
    """A daemon (cpu:1) that ran a few hostile jobs to their end, still running."""

    lab: Lab
    surface: int  # a 2D surface: surface file, directions and 2D figures
    diverging: int  # NaN and +inf at some points; named "../../escape"
    evil: int  # a checkpoint whose unpickling would create ``marker``
    marker: Path


@pytest.fixture(scope="session")
def finished_lab(
    tmp_path_factory: pytest.TempPathFactory, fault_modules: Path
) -> Iterator[FinishedLab]:
    """One daemon for the tests that look at finished jobs, files and processes.

    Everything runs under umask 022, so private files are private because lstui made
    them so, not because the umask happened to be strict.
    """
    root = tmp_path_factory.mktemp("finished")
    lab = Lab(root / "home", fault_modules)
    marker = root / "pwned"
    evil = root / "evil.pt"
    try:
        # submit refuses the evil file, so it replaces a good one after its job is queued
        write_fitting_files(lab, "fault_models:slow", checkpoint=evil)
        queued = lab.cli(
            "submit", "surface", *KILL_SPEC, "--checkpoint", str(evil),
            preexec_fn=lambda: os.umask(0o022),  # it creates the home, the store
        )  # fmt: skip
        evil_job = int(queued.stdout.split()[-1])
        write_evil_checkpoint(evil, marker)
        lab.cli("daemon", "start", "--devices", "cpu:1", preexec_fn=lambda: os.umask(0o022))
        surface = lab.submit("surface", *KILL_SPEC)
        diverging = lab.submit("surface", *DIVERGING_SPEC, "--name", "../../escape")
        for job in (surface, diverging):
            lab.wait_job(job)
            lab.wait_finished_files(job)
        lab.wait_job(evil_job, ("failed",))
        yield FinishedLab(lab, surface, diverging, evil_job, marker)
    finally:
        lab.teardown()
