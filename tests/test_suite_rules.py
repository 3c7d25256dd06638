"""The suite's own rules: a test is skipped only for a missing GPU or browser, and says so; a missing
package is an error, not a skip; an expected failure must be strict (it fails the run the day it passes)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SKIPS = {"skip", "skipif"}  # allowed, with a reason that names the missing GPU or browser
NEVER = {"importorskip"}  # a missing package must fail the run
MISSING_HARDWARE = re.compile(r"\b(CUDA|GPU|Chromium|browser)\b")


def constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments, so a reason kept in a constant can be read."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return found


def text_of(node: ast.expr | None, names: dict[str, str]) -> str:
    """The words of a reason: a string, the fixed parts of an f-string, or a module constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(text_of(v, names) for v in node.values)
    if isinstance(node, ast.Name):
        return names.get(node.id, "")
    return ""


def skip_reasons(source: str) -> list[tuple[int, str, str]]:
    """Every skip or expected failure in a test file: (line, which, its reason)."""
    tree = ast.parse(source)
    names, found = constants(tree), []
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        call = node if isinstance(node, ast.Call) else None
        target = call.func if call else node
        which = getattr(target, "attr", None) or (getattr(target, "id", None) if call else None)  # pytest.skip, skip
        if which not in SKIPS | NEVER | {"xfail"} or id(node) in called:
            continue
        if not call:  # @pytest.mark.skip or @pytest.mark.xfail without a call: no reason at all
            found.append((node.lineno, which, ""))
            continue
        if which == "xfail":  # it cannot hide a failure only when strict, and it must say why
            strict = any(k.arg == "strict" and getattr(k.value, "value", False) is True for k in call.keywords)
            found.append((node.lineno, "xfail" if strict else "xfail (not strict)", text_of(
                next((k.value for k in call.keywords if k.arg == "reason"), None), names)))
            continue
        keyword = next((k.value for k in call.keywords if k.arg in ("reason", "msg")), None)
        positional = call.args[0] if which in ("skip", "importorskip") and call.args else None
        found.append((node.lineno, which, text_of(keyword or positional, names)))
    return found


def broken(which: str, reason: str) -> bool:
    if which == "xfail":
        return not reason
    return which not in SKIPS or not MISSING_HARDWARE.search(reason)


def broken_rules(source: str) -> list[str]:
    return [f"line {line}: {which}({reason!r})" for line, which, reason in skip_reasons(source)
            if broken(which, reason)]


def test_skips_are_only_for_a_missing_gpu_or_browser_and_say_so():
    broken = {str(p.relative_to(TESTS)): broken_rules(p.read_text()) for p in sorted(TESTS.rglob("*.py"))}
    assert {k: v for k, v in broken.items() if v} == {}, \
        "skip only for a missing GPU or browser, with a reason naming it; never importorskip; xfail only strict"


@pytest.mark.parametrize("source, ok", [
    ('pytest.skip("no CUDA here")', True),
    ('pytest.skip(f"no Chromium at {path}: install it")', True),
    ('NO_GPU = "needs a GPU"\n@pytest.mark.skipif(True, reason=NO_GPU)\ndef test(): ...', True),
    ('pytest.skip("too slow today")', False),
    ('from pytest import skip\nskip("too slow today")', False),
    ('@pytest.mark.skipif(sys.platform == "win32", reason="flaky")\ndef test(): ...', False),
    ('@pytest.mark.skip\ndef test(): ...', False),
    ('pytest.importorskip("cupy", reason="no CUDA")', False),
    ('@pytest.mark.xfail(reason="no GPU")\ndef test(): ...', False),  # passes whether or not it fails
    ('NOT_YET = pytest.mark.xfail(strict=True, reason="below the published baseline")', True),
    ('@pytest.mark.xfail(strict=True)\ndef test(): ...', False),
    ('pytest.param("cuda", marks=pytest.mark.skipif(True, reason=REASON))', False),  # unreadable reason
])
def test_the_rule_catches_what_it_should(source, ok):
    assert (broken_rules(source) == []) is ok
