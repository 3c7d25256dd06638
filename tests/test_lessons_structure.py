"""Every lesson passes tools/check_lessons.py, and each of its checks fails on a notebook that breaks it."""
import copy
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "check_lessons.py"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
spec = importlib.util.spec_from_file_location("check_lessons", TOOL)
check_lessons = importlib.util.module_from_spec(spec)
sys.modules["check_lessons"] = check_lessons  # a dataclass looks its module up there
spec.loader.exec_module(check_lessons)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_structure(path):
    checks = check_lessons.check_lesson(json.loads(path.read_text()))
    assert all(c.ok for c in checks), f"{path.name} fails its structure checks:\n{check_lessons.table(checks)}"


def md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text: str, tags: tuple[str, ...] = ()) -> dict:
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": text, "outputs": [],
            "execution_count": None}


def good_lesson() -> dict:
    questions = "\n".join(f"{i}. Question {i}?" for i in range(1, 16))
    return {"cells": [
        md("# Lesson"), code("import torch"), code("size = None  # or 'full'\nseed = 42", tags=("parameters",)),
        code("size = course_size(size)\nprint(run_banner(size, 'cpu', seed))"),
        md("## Questionnaire\n\n" + questions + "\n\n## Further research\n\n1. One\n2. Two"),
        code("print('starter')"), md("3. Three\n   continued"), md("## Recording the results"), code("record()"),
    ]}


def failing(nb: dict) -> set[str]:
    return {c.name for c in check_lessons.check_lesson(nb) if not c.ok}


def test_a_good_lesson_passes():
    assert failing(good_lesson()) == set()


def test_the_mode_may_be_passed_by_position_keyword_or_mapping():
    lesson = good_lesson()
    lesson["cells"].insert(4, code("a = get_data('pets', size)\nb = get_data('imdb', size=size)\n"
                                   "c = get_data('mnist', **{'size': size})\nd = get_data('planet', 'sample')"))
    assert failing(lesson) == set()


def broken(edit) -> dict:
    nb = copy.deepcopy(good_lesson())
    edit(nb["cells"])
    return nb


@pytest.mark.parametrize("edit, expected", [
    (lambda cells: cells[4].update(source=cells[4]["source"].replace("15. Question 15?\n", "")),
     {"questionnaire questions"}),
    (lambda cells: cells.pop(6), {"further-research tasks"}),
    (lambda cells: cells.pop(5), {"further-research starter cells"}),  # the code after "Recording" is no starter
    (lambda cells: cells.insert(2, code("\n".join(f"x{i} = {i}" for i in range(16)))),
     {"longest code cell", "code cells too long"}),
    (lambda cells: cells[1].update(outputs=[{"output_type": "stream", "name": "stdout", "text": "hi"}]),
     {"stored outputs or counts"}),
    (lambda cells: cells[1].update(execution_count=3), {"stored outputs or counts"}),
    (lambda cells: cells[2].update(source="size = course_size(None)\nseed = 42"), {"parameters cell"}),
    (lambda cells: cells[2].update(source="size, seed = None, 42"), {"parameters cell"}),
    (lambda cells: cells[2]["metadata"].update(tags=[]), {"parameters cell", "derived-settings cell"}),
    (lambda cells: cells[3].update(source="size = 'sample'"), {"derived-settings cell"}),
    (lambda cells: cells.insert(4, code("path = get_data('pets')")), {"helpers given the mode"}),
    (lambda cells: cells.insert(4, code("path = data.get_data(name='imdb')")), {"helpers given the mode"}),
])
def test_each_check_fails_on_a_lesson_that_breaks_it(edit, expected):
    assert failing(broken(edit)) == expected


def test_the_command_prints_a_table_per_lesson_and_exits_1_on_failure(tmp_path):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    good.write_text(json.dumps(good_lesson()))
    bad.write_text(json.dumps(broken(lambda cells: cells[1].update(execution_count=1))))
    ok = subprocess.run([sys.executable, str(TOOL), str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "== good.ipynb" in ok.stdout and re.search(r"questionnaire questions +15 ", ok.stdout)
    fail = subprocess.run([sys.executable, str(TOOL), str(good), str(bad)], capture_output=True, text=True)
    assert fail.returncode == 1 and "bad.ipynb: stored outputs or counts (cell 1)" in fail.stdout


def test_a_file_that_is_not_a_notebook_gets_an_error_naming_it(tmp_path):
    junk = tmp_path / "notes.ipynb"
    junk.write_text("not json")
    run = subprocess.run([sys.executable, str(TOOL), str(junk)], capture_output=True, text=True)
    assert run.returncode != 0 and "notes.ipynb" in run.stderr and "pass .ipynb files" in run.stderr
