"""The package stays readable in an evening: small modules, short functions, real examples, one figure style."""
import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = sorted((ROOT / "coursehelpers").rglob("*.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 50


def functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.end_lineno - node.lineno + 1


def code_cells(path: Path):
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] == "code":
            yield i, "".join(cell["source"])


@pytest.mark.parametrize("path", PACKAGE, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_are_short(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines (limit {MAX_MODULE_LINES}): split it"
    long = [(name, n) for name, n in functions(path) if n > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_docstring_examples_are_never_skipped():
    skipped = [str(p.relative_to(ROOT)) for p in PACKAGE + sorted((ROOT / "coursesamples").glob("*.py"))
               if "doctest: +SKIP" in p.read_text()]
    assert not skipped, f"examples must run under make test (doctest), or be removed: {skipped}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_cells_show_figures_one_way(path):
    bad = [i for i, src in code_cells(path)
           if src.rstrip().endswith(";") or "plt.show()" in src or "display(" in src]
    assert not bad, f"{path.name}: cells {bad} end in ';' or call plt.show()/display(): end with the figure"
