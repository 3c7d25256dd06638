"""Check the structure of every lesson notebook, print a table per lesson, exit 1 if any check fails.

The checks (the course's rules for a lesson):
- the "Questionnaire" section has at least 15 numbered questions;
- the "Further research" section has at least 3 numbered tasks and at least one code cell (a starter);
- no code cell is longer than 15 lines;
- no cell keeps outputs or an execution count (lessons are committed clean);
- exactly one cell is tagged ``parameters``, and it holds only assignments of raw values (``seed = 42``);
- the next code cell derives the settings from them: it calls ``course_size(...)`` and ``run_banner(...)``;
- every call of a helper that takes the mode passes it (``get_data(name, size)``, not ``get_data(name)``),
  so the parameters cell alone decides between sample and full.

Usage: ``python tools/check_lessons.py [notebook.ipynb ...]`` (default: notebooks/*.ipynb).
"""
from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

MIN_QUESTIONS, MIN_TASKS, MIN_STARTERS, MAX_CELL_LINES = 15, 3, 1, 15
# helpers that take the mode: name -> (the position of the mode argument, its keyword)
MODE_ARGS = {"get_data": (1, "size")}
NUMBERED = re.compile(r"^\d+\.\s")  # "1. ..." at the start of a line: a question or a task
HEADING = re.compile(r"^(#{1,2})\s+(.*)")  # a section: "# ..." or "## ..."; "###" stays inside it


@dataclass
class Check:
    """One line of the table: what was checked, what the lesson has, what it needs, and whether it passes."""
    name: str
    found: str
    needed: str
    ok: bool


def source(cell: dict) -> str:
    """A cell's text (nbformat stores it as a string or as a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def sections(cells: list[dict]) -> dict[str, dict[str, int]]:
    """Per section title (lower case): its numbered items and its non-empty code cells.

    Example:
        >>> md = lambda s: {"cell_type": "markdown", "source": s}
        >>> sections([md("## Questionnaire\\n1. Why?\\n2. How?"), md("## Further research\\n1. Try"),
        ...           {"cell_type": "code", "source": "x = 1"}])["further research"]
        {'items': 1, 'code_cells': 1}
    """
    found: dict[str, dict[str, int]] = {}
    current = found.setdefault("", {"items": 0, "code_cells": 0})
    for cell in cells:
        if cell["cell_type"] == "code":
            current["code_cells"] += bool(source(cell).strip())
            continue
        for line in source(cell).splitlines():
            heading = HEADING.match(line)
            if heading:
                current = found.setdefault(heading.group(2).strip().lower(), {"items": 0, "code_cells": 0})
            elif NUMBERED.match(line):
                current["items"] += 1
    return found


def raw_value_problems(code: str) -> list[str]:
    """The statements of a parameters cell that are not ``name = <literal>`` (empty: the cell is fine).

    Example:
        >>> raw_value_problems("size = None  # or 'full'\\nseed = 42\\nlr = -1e-3")
        []
        >>> raw_value_problems("size = course_size(None)")
        ['line 1: size = course_size(None)']
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return [f"line {err.lineno}: does not parse ({err.msg})"]
    problems = []
    for stmt in tree.body:
        names_ok = isinstance(stmt, (ast.Assign, ast.AnnAssign)) and all(
            isinstance(t, ast.Name) for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]))
        try:
            literal = names_ok and stmt.value is not None and ast.literal_eval(stmt.value) is not Ellipsis
        except ValueError:
            literal = False
        if not literal:
            problems.append(f"line {stmt.lineno}: {ast.get_source_segment(code, stmt)}")
    return problems


def call_nodes(code: str) -> list[tuple[str, ast.Call]]:
    """(name, node) of each call in ``code`` of ``f(...)`` or ``module.f(...)``; none if it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [(node.func.id if isinstance(node.func, ast.Name) else node.func.attr, node) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))]


def calls(code: str) -> set[str]:
    """The names of the functions a cell calls (``f(...)`` and ``module.f(...)``)."""
    return {name for name, _ in call_nodes(code)}


def calls_without_mode(code: str) -> list[str]:
    """The calls in ``code`` of a helper in ``MODE_ARGS`` that do not pass the mode.

    Example:
        >>> calls_without_mode("a = get_data('pets', size)\\nb = get_data('imdb')\\nc = data.get_data('x', size=size)")
        ["get_data('imdb')"]
    """
    missing = []
    for name, node in call_nodes(code):
        if name in MODE_ARGS:
            position, keyword = MODE_ARGS[name]
            if not (len(node.args) > position or any(k.arg in (keyword, None) for k in node.keywords)):
                missing.append(ast.get_source_segment(code, node))
    return missing


def mode_checks(cells: list[dict]) -> list[Check]:
    """Every helper that takes the mode is given it (no silent sample data in full mode, or the reverse)."""
    missing = [f"cell {i}: {call}" for i, c in enumerate(cells) if c["cell_type"] == "code"
               for call in calls_without_mode(source(c))]
    return [Check("helpers given the mode", "; ".join(missing) or "all", "get_data(name, size)", not missing)]


def cell_checks(cells: list[dict]) -> list[Check]:
    """Length of the code cells, and no stored outputs or execution counts."""
    lengths = {i: len(source(c).rstrip().splitlines()) for i, c in enumerate(cells) if c["cell_type"] == "code"}
    long = [f"cell {i} ({n} lines)" for i, n in lengths.items() if n > MAX_CELL_LINES]
    stored = [f"cell {i}" for i, c in enumerate(cells)
              if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    longest = max(lengths.values(), default=0)
    return [Check("longest code cell", f"{longest} lines", f"<= {MAX_CELL_LINES}", not long),
            Check("code cells too long", ", ".join(long) or "none", "none", not long),
            Check("stored outputs or counts", ", ".join(stored) or "none", "none", not stored)]


def parameter_checks(cells: list[dict]) -> list[Check]:
    """One ``parameters`` cell of raw values, and right after it the cell that derives the settings."""
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        found = f"{len(tagged)} tagged cells" + (f" ({tagged})" if tagged else "")
        return [Check("parameters cell", found, "exactly 1", False),
                Check("derived-settings cell", "no parameters cell", "course_size + run_banner", False)]
    i = tagged[0]
    problems = raw_value_problems(source(cells[i])) if cells[i]["cell_type"] == "code" else ["not a code cell"]
    after = next((j for j in range(i + 1, len(cells)) if cells[j]["cell_type"] == "code"), None)
    missing = {"course_size", "run_banner"} - (calls(source(cells[after])) if after is not None else set())
    return [Check("parameters cell", f"cell {i}" + (": " + "; ".join(problems) if problems else ""),
                  "raw values only", not problems),
            Check("derived-settings cell", f"cell {after}" + (f": no call to {sorted(missing)}" if missing else ""),
                  "course_size + run_banner", after is not None and not missing)]


def check_lesson(notebook: dict) -> list[Check]:
    """Every check of one notebook (its parsed JSON)."""
    cells = notebook.get("cells", [])
    found = sections(cells)
    questions = found.get("questionnaire", {"items": 0})["items"]
    research = found.get("further research", {"items": 0, "code_cells": 0})
    return [Check("questionnaire questions", str(questions), f">= {MIN_QUESTIONS}", questions >= MIN_QUESTIONS),
            Check("further-research tasks", str(research["items"]), f">= {MIN_TASKS}", research["items"] >= MIN_TASKS),
            Check("further-research starter cells", str(research["code_cells"]), f">= {MIN_STARTERS}",
                  research["code_cells"] >= MIN_STARTERS),
            *cell_checks(cells), *parameter_checks(cells), *mode_checks(cells)]


def table(checks: list[Check]) -> str:
    """The checks as an aligned text table."""
    rows = [("check", "found", "needed", "ok")] + [(c.name, c.found, c.needed, "yes" if c.ok else "FAIL")
                                                    for c in checks]
    widths = [max(len(row[k]) for row in rows) for k in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows)


def load(path: Path) -> dict:
    """A notebook's JSON, or a clear error that names the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"check_lessons: cannot read {path} as a notebook ({err}); pass .ipynb files") from err


def main(argv: list[str]) -> int:
    """Check each notebook named (default: notebooks/*.ipynb); 0 if all pass, else 1."""
    paths = [Path(a) for a in argv] or sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
    if not paths:
        raise SystemExit("check_lessons: no notebooks found: pass .ipynb files")
    failed = []
    for path in paths:
        checks = check_lesson(load(path))
        print(f"== {path.name}\n{table(checks)}\n")
        failed += [f"{path.name}: {c.name} ({c.found})" for c in checks if not c.ok]
    print("FAILED:\n  " + "\n  ".join(failed) if failed else f"all {len(paths)} lessons pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
