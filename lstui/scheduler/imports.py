"""Where a job's own code (``--model pkg.module:factory``, ``--data pkg.module:factory``)
is imported from.

A researcher queues a job from the folder that holds ``my_models.py`` (or with it on
``PYTHONPATH``); the daemon was started elsewhere, with another ``sys.path``, and its
worker could not import the module. At submit the folder each factory's module is found
in is kept with the job (:attr:`JobSpec.import_path`), and a worker imports from there
first.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from lstui.errors import DataError, ModelError
from lstui.spec import JobSpec


def _factories(spec: JobSpec) -> list[tuple[str, type[ModelError] | type[DataError], str]]:
    """``(flag, error class, module name)`` of each factory the spec names."""
    found: list[tuple[str, type[ModelError] | type[DataError], str]] = []
    for flag, value, error in (("--model", spec.model, ModelError), ("--data", spec.data, DataError)):
        module, sep, _ = value.partition(":")
        if sep and module not in ("torchvision", "cifar10", "cifar100", "imagefolder", ""):
            found.append((flag, error, module))
    return found


def _holds(folder: Path, top: str) -> bool:
    return (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file()


def module_root(module: str, first: Sequence[Path] = ()) -> Path | None:
    """The folder ``module`` is imported from here: one of ``first`` (a job file's
    folder) that holds it, else on ``sys.path``, else the current folder (as ``python
    -m`` has it; the ``lstui`` script's ``sys.path`` lacks it). None when it is not
    found, or is built in."""
    top = module.split(".")[0]
    for folder in first:
        if _holds(folder, top):
            return folder.resolve()
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if found is None:
        return Path.cwd().resolve() if _holds(Path.cwd(), top) else None
    if found.submodule_search_locations:  # a package: the folder holding its folder
        return Path(next(iter(found.submodule_search_locations))).resolve().parent
    if found.origin and found.has_location:
        return Path(found.origin).resolve().parent
    return None


def _built_in(module: str) -> bool:
    """Whether ``module`` is built into the interpreter or frozen (``sys``, ``os``)."""
    top = module.split(".")[0]
    if top in sys.builtin_module_names:
        return True
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    return found is not None and not found.has_location


def _in_environment(folder: Path) -> bool:
    """Whether ``folder`` is lstui's own environment's (its site-packages, the standard
    library): importable by any worker of this installation anyway."""
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return any(folder == p or p in folder.parents for p in prefixes)


def with_import_path(spec: JobSpec, first: Sequence[Path] = ()) -> JobSpec:
    """``spec`` with the folders its factories' modules are imported from here (``first``
    looked in first: a job file's folder).

    Raises:
        ModelError, DataError: a factory's module cannot be found from here.
    """
    roots: list[str] = []
    first = [*first, *(Path(f) for f in spec.import_path or ())]  # where it was found before
    for flag, error, module in _factories(spec):
        root = module_root(module, first)
        if root is None and _built_in(module):
            raise error(f"{flag} {getattr(spec, flag[2:])!r}: {module!r} is built into Python; a "
                        "factory is a function of a module of your own (module:function)")
        if root is None:
            raise error(
                f"{flag} {getattr(spec, flag[2:])!r}: no module {module!r} can be imported from here; "
                "queue the job from the folder that holds it, or with that folder on PYTHONPATH"
            )
        if not _in_environment(root) and str(root) not in roots:
            roots.append(str(root))
    if not roots:
        return spec
    return dataclasses.replace(spec, import_path=tuple(roots))


def check_factories(spec: JobSpec) -> None:
    """Import each factory's module (from ``spec.import_path``, or where
    :func:`with_import_path` finds it from here, put first on ``sys.path``) and check it
    names a callable, not calling it: a misspelt factory is refused at submit, not in the
    worker.

    Raises:
        ModelError, DataError: the module does not import, or has no such callable.
    """
    factories = _factories(spec)
    if not factories:
        return  # (a submit without any pays no torch import: 2 s of its 2.3)
    from lstui.datasets import factory_function
    from lstui.models import model_factory

    # from the folders the spec names, else found from here (the current folder, as the
    # job is queued from it): compare and trajectory check before a job's spec has them
    add_import_path(with_import_path(spec).import_path)
    for flag, _, _ in factories:
        if flag == "--model":
            model_factory(spec.model)
        else:
            factory_function(spec.data)


def factory_files(spec: JobSpec) -> list[str]:
    """The source files of ``spec``'s factories found in the person's folders
    (:attr:`JobSpec.import_path`), and of the modules of those folders they import, read
    from their source (a ``common.py`` the data factory normalises with; nothing is
    imported or run): files a worker reads, digested with the checkpoints, so that a
    module edited while its job runs is refused rather than mixed in."""
    roots = [Path(f) for f in spec.import_path or ()]
    files: list[str] = []
    for _, _, module in _factories(spec):
        for name in _with_packages(module):  # a package's __init__.py runs as it is imported
            found = _module_file(name, roots)
            if found is not None and str(found) not in files:
                files.append(str(found))
    todo = list(files)
    while todo:  # the imports of each, found in the same folders, and theirs
        for imported in _imported_names(Path(todo.pop()), roots):
            for name in _with_packages(imported):
                found = _module_file(name, roots)
                if found is not None and str(found) not in files:
                    files.append(str(found))
                    todo.append(str(found))
    return files


def _with_packages(module: str) -> list[str]:
    """``a.b.c`` and the packages above it, whose ``__init__.py`` an import of it runs:
    ``a``, ``a.b``, ``a.b.c``."""
    parts = module.split(".")
    return [".".join(parts[: n + 1]) for n in range(len(parts))]


def _module_file(module: str, roots: Sequence[Path]) -> Path | None:
    """The source file of ``module`` in the first of ``roots`` that holds it."""
    parts = module.split(".")
    for root in roots:
        for candidate in (root.joinpath(*parts[:-1], f"{parts[-1]}.py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def _imported_names(source: Path, roots: Sequence[Path] = ()) -> list[str]:
    """The modules ``source`` imports (``import a.b``, ``from a import b``: ``a``,
    ``a.b``), wherever in the file; a relative import (``from . import b``) by its
    absolute name, the file's package known from the one of ``roots`` holding it. A file
    that does not parse: none."""
    import ast

    try:
        tree = ast.parse(source.read_bytes(), filename=str(source))
    except (OSError, SyntaxError, ValueError):
        return []
    package: list[str] | None = None
    for root in roots:
        if root.resolve() in source.resolve().parents:
            package = list(source.resolve().relative_to(root.resolve()).parts[:-1])
            break
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                names += [".".join(parts[: k + 1]) for k in range(len(parts))]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if package is None or node.level - 1 > len(package):
                    continue
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module:
                names.append(module)
            names += [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
    return names


def local_modules(folders: Sequence[str] | None) -> list[tuple[str, str]]:
    """``(name, file)`` of the Python modules this process imported from ``folders``
    (the person's, :attr:`JobSpec.import_path`): lstui itself, ``__main__``, installed
    packages (any site-packages, the user's too, lstui's environment) and compiled
    extensions left out, which are never the person's to edit between jobs."""
    roots = [Path(f).resolve() for f in folders or ()]
    if not roots:
        return []
    found = []
    for name, module in list(sys.modules.items()):
        if name in ("__main__", "__mp_main__") or name == "lstui" or name.startswith("lstui."):
            continue
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py") or not Path(file).is_absolute():
            continue  # torch._classes says "_classes.py"; C extensions stay loaded for good
        path = Path(file).resolve()
        if not any(root in path.parents for root in roots) or _installed(path):
            continue
        found.append((name, str(path)))
    return found


def _installed(path: Path) -> bool:
    """Whether ``path`` belongs to an installed package: lstui's environment, or any
    site-packages or dist-packages folder (``pip install --user``'s among them)."""
    return _in_environment(path) or any(part in ("site-packages", "dist-packages") for part in path.parts)


_PERSON_FOLDERS: list[str] = []
"""Every folder :func:`add_import_path` put first in this process: a worker forgets the
modules of all of them before a job (``common.py`` of an earlier job's folder shadowed
the next job's own ``common.py``)."""


def fresh_factories(spec: JobSpec) -> None:
    """Forget the modules of ``spec``'s factories that this process imported before, and
    every module it imported from the person's folders of this job and of earlier ones
    (the helpers they import): a worker lives on from job to job, and the next job's
    ``my_models.py`` and its ``common.py`` (another folder's, or the same files edited
    since) are imported anew, not the copies of the job before. Installed packages and
    compiled extensions are left alone (:func:`local_modules`)."""
    folders = [*(spec.import_path or ()), *_PERSON_FOLDERS]
    if not folders:
        return
    for _, _, module in _factories(spec):
        top = module.split(".")[0]
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            file = getattr(sys.modules[name], "__file__", None)
            if file is None or not _installed(Path(file).resolve()):
                del sys.modules[name]
    for name, _ in local_modules(folders):
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


def add_import_path(folders: Sequence[str] | None) -> None:
    """Put ``folders`` first on ``sys.path`` (moved there if they are on it already): a
    worker builds the job's model and data with the modules the person queued it with,
    ahead of an earlier job's folder. They stay, for the imports the person's code
    makes later, while it computes."""
    if not folders:
        return
    for folder in reversed(folders):
        while folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)
        if folder not in _PERSON_FOLDERS:
            _PERSON_FOLDERS.append(folder)
    importlib.invalidate_caches()
