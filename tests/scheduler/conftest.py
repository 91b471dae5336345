"""Fixtures for the scheduler tests: tmp homes, the test models, a reference surface."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scheduler.support import SLOW_SPEC, Lab, write_lab_models


@pytest.fixture(scope="session")
def lab_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``lab_models.py`` (put on PYTHONPATH of every lab process)."""
    return write_lab_models(tmp_path_factory.mktemp("modules"))


@pytest.fixture
def lab(tmp_path: Path, lab_modules: Path) -> Iterator[Lab]:
    """A fresh home; every daemon started on it is stopped (or killed) afterwards."""
    lab = Lab(tmp_path / "home", lab_modules)
    try:
        yield lab
    finally:
        lab.teardown()


@pytest.fixture(scope="session")
def reference_surface(tmp_path_factory: pytest.TempPathFactory, lab_modules: Path) -> Path:
    """``lstui run`` of :data:`SLOW_SPEC`, uninterrupted: the values every daemon run of
    that spec must reproduce."""
    root = tmp_path_factory.mktemp("reference")
    lab = Lab(root / "home", lab_modules)
    out = root / "out"
    lab.cli("run", "surface", *SLOW_SPEC, "--out", str(out), "--device", "cpu", "--no-figure")
    path = out / "surface.h5"
    assert path.exists()
    return path
