"""A fresh ``pip install -e ".[test]"`` has every module the library and the tests import.

README's test command is ``python -m pip install -e ".[test]" && python -m pytest``: it must
work on a clean virtual environment, without the ``bench`` extra (FLAML, pymfe) or anything else
that happens to be installed on a developer's machine. This test reads the sources with ``ast``
(nothing is imported) and checks every ``import``:

* autometa/**/*.py, at module level and inside functions: the module is in the standard library
  (``sys.stdlib_module_names``), the project itself, or comes from a distribution in pyproject's
  ``dependencies`` -- the library must import with the core install, without the test extra.
  Imports inside a ``try`` whose ``except`` catches ImportError are the library's own optional
  paths (it reports a missing package) and are not checked, except that a module from one of
  the project's extras (:data:`OPTIONAL_IMPORTS`, a short explicit list naming the extra) must
  be imported lazily, inside a function, never at module level.
* tests/*.py, every import, guarded or not: standard library, the project, a helper module in
  tests/ or benchmarks/, or a distribution of ``dependencies`` + the ``test`` extra. A test of
  something from another extra uses ``pytest.importorskip(name, reason=...)``, which is not an
  import statement and skips visibly. The benchmarks/ modules those tests import are checked
  too, at module level (their FLAML imports must stay inside the FLAML runners).

"Comes from a distribution": the import name is mapped to the installed distributions that
provide it (``importlib.metadata.packages_distributions()``, so ``sklearn`` -> scikit-learn,
``arff`` -> liac-arff), and a declared requirement accepts its own transitive requirements
(``importlib.metadata.requires``, environment markers and requested extras evaluated): importing
``click`` (typer's), ``sqlalchemy`` (optuna's), ``requests`` (openml's) or ``threadpoolctl``
(scikit-learn's) is accepted because installing the declared distributions always installs them.
The test therefore needs the test extra installed (the distributions are looked up in the
running environment), which is what README's command does.
"""
from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import pytest
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_MODULES = {"autometa", "autometa_metabase"}
#: helper modules the tests import from these folders (imported by path, not installed)
LOCAL_DIRS = [REPO_ROOT / "tests", REPO_ROOT / "benchmarks"]
#: modules of the project's optional extras that library code may import, lazily and guarded:
#: module -> the extra (in pyproject's optional-dependencies) that installs it
OPTIONAL_IMPORTS = {
    "distributed": "distributed",  # autometa metabase build --scheduler (autometa/metabase/build.py)
}
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


class Import(NamedTuple):
    module: str  # top-level module name
    path: Path
    line: int
    in_function: bool
    guarded: bool  # inside ``try:`` with an ``except`` that catches ImportError

    def where(self) -> str:
        path = self.path.relative_to(REPO_ROOT) if self.path.is_relative_to(REPO_ROOT) else self.path.name
        return f"{path}:{self.line}"


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS for n in names)


def imports_of(path: Path) -> list[Import]:
    """Every absolute import in a file, with where it is (``if TYPE_CHECKING:`` blocks skipped)."""
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_guarded = guarded
            if isinstance(node, ast.Try) and child in node.body:
                child_guarded = guarded or any(_catches_import_error(h) for h in node.handlers)
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(alias.name.split(".")[0], path, child.lineno, in_function, child_guarded))
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append(Import(child.module.split(".")[0], path, child.lineno, in_function, child_guarded))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)),
                  child_guarded)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False, False)
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: Iterable[str]) -> set[str]:
    """Canonical names of the distributions the requirements install, transitively (markers and
    requested extras evaluated in this environment)."""
    dists: set[str] = set()
    seen: set[tuple[str, str]] = set()
    stack = [Requirement(r) for r in requirements]
    while stack:
        req = stack.pop()
        name = _canonical(req.name)
        extras = sorted(req.extras)
        if all((name, e) in seen for e in ["", *extras]):
            continue
        seen.update((name, e) for e in ["", *extras])
        dists.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:  # e.g. only needed on another platform
            continue
        for text in requires:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ["", *extras]):
                stack.append(sub)
    return dists


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.fixture(scope="module")
def providers() -> dict[str, set[str]]:
    """Import name -> canonical names of the installed distributions that provide it."""
    return {mod: {_canonical(d) for d in dists} for mod, dists in metadata.packages_distributions().items()}


def _local_modules() -> set[str]:
    return {p.stem for d in LOCAL_DIRS for p in d.glob("*.py")}


def _problem(imp: Import, allowed: set[str], providers: dict[str, set[str]], what: str) -> str | None:
    """Why an import is not covered (None when it is)."""
    if imp.module in sys.stdlib_module_names or imp.module in PROJECT_MODULES:
        return None
    dists = providers.get(imp.module)
    if not dists:
        return f"{imp.where()}: `{imp.module}` is not provided by any installed distribution ({what})"
    if dists & allowed:
        return None
    return (f"{imp.where()}: `{imp.module}` comes from {', '.join(sorted(dists))}, which is not in {what} "
            "(nor required by one of them)")


def _library_files() -> list[Path]:
    return sorted((REPO_ROOT / "autometa").rglob("*.py"))


def _test_files() -> list[Path]:
    return sorted((REPO_ROOT / "tests").glob("*.py"))


def library_problems(project: dict, providers: dict[str, set[str]]) -> list[str]:
    core = closure(project["dependencies"])
    problems = []
    for path in _library_files():
        for imp in imports_of(path):
            if imp.module in OPTIONAL_IMPORTS:
                extra = OPTIONAL_IMPORTS[imp.module]
                if not imp.in_function:
                    problems.append(f"{imp.where()}: `{imp.module}` (the {extra!r} extra) is imported at module "
                                    "level; import it inside the function that needs it")
                elif not imp.guarded:
                    problems.append(f"{imp.where()}: `{imp.module}` (the {extra!r} extra) is imported without "
                                    "`except ImportError` telling the user which extra to install")
                continue
            if imp.guarded:
                continue
            problem = _problem(imp, core, providers, "pyproject's dependencies")
            if problem:
                problems.append(problem)
    return problems


def test_library_imports_need_only_the_dependencies(project, providers):
    problems = library_problems(project, providers)
    assert not problems, (
        "autometa/ imports modules a plain `pip install autometa` does not provide; add the distribution "
        "to pyproject's dependencies, or import it lazily inside `try/except ImportError` (and list a "
        "module of an extra in OPTIONAL_IMPORTS of tests/test_packaging.py):\n" + "\n".join(problems)
    )


def _local_imported(files: list[Path]) -> Iterator[Path]:
    """The benchmarks/ helper modules the given files import (transitively, module level)."""
    bench = {p.stem: p for p in (REPO_ROOT / "benchmarks").glob("*.py")}
    todo = [imp.module for f in files for imp in imports_of(f) if imp.module in bench]
    done: set[str] = set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        yield bench[name]
        todo += [imp.module for imp in imports_of(bench[name]) if imp.module in bench and not imp.in_function]


def problems_in_tests(project: dict, providers: dict[str, set[str]], files: list[Path] | None = None) -> list[str]:
    allowed = closure(project["dependencies"] + project["optional-dependencies"]["test"])
    local = _local_modules()
    files = _test_files() if files is None else files
    what = "pyproject's dependencies + the test extra"
    problems = []
    for path in files:
        for imp in imports_of(path):
            if imp.module in local:
                continue
            problem = _problem(imp, allowed, providers, what)
            if problem:
                problems.append(problem)
    for path in _local_imported(files):
        for imp in imports_of(path):
            if imp.in_function or imp.guarded or imp.module in local:
                continue
            problem = _problem(imp, allowed, providers, what)
            if problem:
                problems.append(problem + " -- imported at module level by a benchmarks/ module the tests use")
    return problems


def test_test_imports_need_only_the_test_extra(project, providers):
    problems = problems_in_tests(project, providers)
    assert not problems, (
        "the tests import modules `pip install -e \".[test]\"` does not provide; add the distribution to the "
        "test extra, or use `pytest.importorskip(name, reason=\"... is in the <extra> extra\")` in the test "
        "that needs it:\n" + "\n".join(problems)
    )


def test_the_guard_sees_a_stray_import(project, providers, tmp_path):
    """A test file importing FLAML (the bench extra) at module level or in a function is caught."""
    stray = tmp_path / "test_stray.py"
    stray.write_text("import json\nimport flaml\n\ndef test_x():\n    from pymfe.mfe import MFE\n")
    problems = problems_in_tests(project, providers, [stray])
    assert [p.split(":")[0:2] for p in problems] == [["test_stray.py", "2"], ["test_stray.py", "5"]], problems


def test_the_optional_list_is_small_and_true(project):
    """Every OPTIONAL_IMPORTS entry names an extra of pyproject and is imported by the library."""
    extras = project["optional-dependencies"]
    used = {imp.module for path in _library_files() for imp in imports_of(path)}
    for module, extra in OPTIONAL_IMPORTS.items():
        assert extra in extras, f"OPTIONAL_IMPORTS[{module!r}] names {extra!r}, not an extra of pyproject"
        assert module in used, f"OPTIONAL_IMPORTS lists {module!r}, which autometa/ no longer imports; remove it"
        names = {_canonical(Requirement(r).name) for r in extras[extra]}
        provided = {_canonical(d) for d in metadata.packages_distributions().get(module, [])}
        if provided:  # installed here: check the extra really brings it
            assert provided & closure(extras[extra]), f"the {extra!r} extra ({', '.join(sorted(names))}) " \
                f"does not install {module!r}"
