"""A worker lives from job to job: each job's own modules are imported from the folder
it was queued from, as they are now (lstui.scheduler.imports)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lstui.models import build_model
from lstui.scheduler.imports import add_import_path, fresh_factories, with_import_path
from lstui.spec import JobSpec

MODULE = "lstui_test_own_models"


def _write(folder: Path, outputs: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE}.py").write_text(
        f"from torch import nn\n\ndef make():\n    return nn.Linear(64, {outputs})\n"
    )


@pytest.fixture
def clean_imports() -> Iterator[None]:
    path = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = path
        for name in [n for n in sys.modules if n == MODULE]:
            del sys.modules[name]


def _outputs(spec: JobSpec) -> int:
    add_import_path(spec.import_path)  # as prepare_job does, job after job
    fresh_factories(spec)
    return build_model(spec.model, input_shape=(1, 8, 8)).out_features  # type: ignore[return-value]


def test_each_job_builds_its_own_folder_s_module_as_it_is_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_imports: None
) -> None:
    """Two projects with a `my_models.py` each: the second job was computed with the
    first job's module (and an edited file with its old code)."""
    a, b = tmp_path / "a", tmp_path / "b"
    _write(a, 3)
    _write(b, 5)
    specs = {}
    for folder in (a, b):
        monkeypatch.chdir(folder)  # queued from the folder holding it, as a person does
        specs[folder] = with_import_path(JobSpec(model=f"{MODULE}:make", x=None))
        assert specs[folder].import_path == (str(folder.resolve()),)
    monkeypatch.chdir(tmp_path)  # the worker runs elsewhere
    assert [_outputs(specs[a]), _outputs(specs[b]), _outputs(specs[a])] == [3, 5, 3]
    _write(a, 17)  # edited since (a size of its own: the cached bytecode is checked by mtime and size)
    assert _outputs(specs[a]) == 17


def test_a_module_found_nowhere_is_refused_and_installed_ones_need_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lstui.errors import ModelError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="no module 'nowhere_xyz' can be imported from here"):
        with_import_path(JobSpec(model="nowhere_xyz:make", x=None))
    assert with_import_path(JobSpec(model="torch.nn:Identity", x=None)).import_path is None
    # built in or frozen: said so, not "cannot be imported from here" (which is false)
    for model in ("os:getcwd", "sys:getrecursionlimit"):
        with pytest.raises(ModelError, match=f"'{model.split(':')[0]}' is built into Python; a factory is"):
            with_import_path(JobSpec(model=model, x=None))


def test_a_submit_with_no_file_and_no_factory_to_check_does_not_import_torch(tmp_path: Path) -> None:
    """Checking factories imported the data sets' module, and torch with it, for every
    submit: 2 s of a submit that has nothing to check."""
    import os
    import subprocess

    code = (
        "import sys\n"
        "from lstui.cli import main\n"
        "try:\n"
        "    main(['submit', 'surface', '--model', 'cnn', '--x', '-1:1:3'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LSTUI_HOME": str(tmp_path / "home")},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_lstui_itself_is_never_one_of_the_person_s_modules() -> None:
    """A job queued from the folder above an editable checkout of lstui: its workers
    would have forgotten (and digested) lstui's own modules with the person's."""
    import lstui
    from lstui.scheduler.imports import local_modules

    above = str(Path(lstui.__file__).resolve().parents[1])
    assert not [name for name, _ in local_modules([above]) if name.split(".")[0] == "lstui"]



def test_a_job_digests_the_helpers_its_factory_imports_and_no_other_module_of_its_folder(
    tmp_path: Path, clean_imports: None
) -> None:
    """Found from the source: a process that had imported another factory of the same
    folder gave a job the digests of modules it never used (the review's models_a /
    models_b), and a relative import inside a package was missed."""
    from lstui.scheduler.imports import factory_files

    (tmp_path / "lt_common.py").write_text("SCALE = 1\n")
    (tmp_path / "lt_models_a.py").write_text("import lt_common\n\ndef make():\n    return lt_common\n")
    (tmp_path / "lt_models_b.py").write_text("def make():\n    from torch import nn\n    return nn.Identity()\n")
    (tmp_path / "lt_pkg").mkdir()
    (tmp_path / "lt_pkg" / "__init__.py").write_text("")
    (tmp_path / "lt_pkg" / "nets.py").write_text("from . import blocks\nfrom .blocks import conv\n")
    (tmp_path / "lt_pkg" / "blocks.py").write_text("def conv():\n    pass\n")
    root = (str(tmp_path),)
    spec_a = JobSpec(model="lt_models_a:make", x=None, import_path=root)
    spec_b = JobSpec(model="lt_models_b:make", x=None, import_path=root)
    spec_p = JobSpec(model="lt_pkg.nets:make", x=None, import_path=root)
    assert factory_files(spec_a) == [str(tmp_path / "lt_models_a.py"), str(tmp_path / "lt_common.py")]
    assert factory_files(spec_b) == [str(tmp_path / "lt_models_b.py")]
    assert factory_files(spec_p) == [str(tmp_path / "lt_pkg" / "__init__.py"), str(tmp_path / "lt_pkg" / "nets.py"),
                                     str(tmp_path / "lt_pkg" / "blocks.py")]
    # the packages above a factory's module run as it is imported: a walker's mypkg/__init__.py
    # set the data's scale, and an edit to it went unseen
    (tmp_path / "lt_pkg" / "sub").mkdir()
    (tmp_path / "lt_pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "lt_pkg" / "sub" / "deep.py").write_text("def make():\n    pass\n")
    (tmp_path / "lt_pkg" / "__init__.py").write_text("from . import lt_scale\n")
    (tmp_path / "lt_pkg" / "lt_scale.py").write_text("SCALE = 40.0\n")
    spec_d = JobSpec(model="lt_pkg.sub.deep:make", x=None, import_path=root)
    assert factory_files(spec_d) == [str(tmp_path / "lt_pkg" / "__init__.py"),
                                     str(tmp_path / "lt_pkg" / "sub" / "__init__.py"),
                                     str(tmp_path / "lt_pkg" / "sub" / "deep.py"),
                                     str(tmp_path / "lt_pkg" / "lt_scale.py")]
    assert not [name for name in sys.modules if name.startswith("lt_")]  # read, not imported


def test_a_worker_forgets_an_earlier_job_s_helper_of_the_same_name_and_never_installed_packages(
    tmp_path: Path, clean_imports: None
) -> None:
    """Two projects each with a `common.py`: the second job's factory saw the first's
    (SCALE 1 for 3). And a package installed with `pip install --user` below the
    person's folder was forgotten with their modules: torch's import again failed."""
    import importlib

    from lstui.scheduler.imports import local_modules

    for name, scale in (("fa", 1), ("fb", 3)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "common.py").write_text(f"SCALE = {scale}\n")
        (tmp_path / name / f"net_{name}.py").write_text("import common\n\ndef make():\n    return common.SCALE\n")
    site = tmp_path / "fa" / ".local" / "lib" / "site-packages"
    site.mkdir(parents=True)
    (site / "lt_installed.py").write_text("X = 1\n")
    scales = []
    try:
        for name in ("fa", "fb"):
            spec = JobSpec(model=f"net_{name}:make", x=None, import_path=(str(tmp_path / name),))
            add_import_path(spec.import_path)  # as prepare_job does, job after job
            fresh_factories(spec)
            scales.append(importlib.import_module(f"net_{name}").make())
        assert scales == [1, 3]
        sys.path.insert(0, str(site))
        importlib.import_module("lt_installed")
        assert "lt_installed" not in [name for name, _ in local_modules([str(tmp_path / "fa")])]
    finally:
        for name in ("common", "net_fa", "net_fb", "lt_installed"):
            sys.modules.pop(name, None)
