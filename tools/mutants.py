"""Mutation testing of coursehelpers (`make mutants`): run mutmut in a copy of the repository, print scores.

mutmut (configured in setup.cfg) plants one small bug at a time (a flipped comparison, a changed
constant, a dropped argument) and runs the unit tests that call the changed function; a mutant
is killed when one of them fails. The copy lives in build/mutation/, so mutmut's files never mix
with the working tree, and its results are kept there: a second run re-tests only the functions
that changed since.

    python tools/mutants.py                  # every module, the training loop first
    python tools/mutants.py learner faults   # just these (names under coursehelpers/)
    python tools/mutants.py --report         # print the last scores without running anything
    python tools/mutants.py --tests REV      # the tests of an older revision (a score "before")
    python tools/mutants.py --tests 33a5425 --deselect tests/test_data_samples.py::NAME  # less one that fails today
    python tools/mutants.py -j 1 learner     # one mutant at a time (a shared machine)
    python tools/mutants.py --survivors learner  # re-test last run's survivors and unreached mutants (after adding tests)
    python tools/mutants.py --workdir build/mutation-b text/data  # a second run beside the first

Not part of CI: the whole package takes hours on two cores.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
COPIED = ["coursehelpers", "coursesamples", "tests", "app", "data/weights", "pyproject.toml", "setup.cfg"]
# The training loop, the schedule, metrics and callbacks first (their target: 85% killed), then the rest.
FIRST = ["learner", "faults", "param_groups", "lr_finder", "config", "dataloaders", "schedule", "metrics",
         "callbacks"]
# mutmut's exit codes (mutmut/stats.py); a crash (segfault) is a failure the tests noticed: killed.
STATUS = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", 2: "not checked",
          34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "killed", -11: "killed", -9: "killed"}


def modules() -> list[str]:
    """Every module of the package (``text/data`` for subpackages), the training loop first."""
    found = sorted(str(p.relative_to(ROOT / "coursehelpers").with_suffix("")) for p in
                   (ROOT / "coursehelpers").rglob("*.py") if p.name != "__init__.py")
    return [m for m in FIRST if m in found] + [m for m in found if m not in FIRST]


def sync(tests_rev: str | None = None) -> None:
    """Copy the package, the samples' makers, the tests and the config into build/mutation/.

    ``tests_rev``: take tests/ from that git revision instead (to score older tests against
    today's package), with today's tests/conftest.py, which marks what the selection leaves out.
    """
    for name in COPIED + ["mutants/tests"]:  # mutmut adds the tests to mutants/ without removing old ones
        target = WORK / name
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    for name in COPIED:
        source, target = ROOT / name, WORK / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    if tests_rev is not None:
        shutil.rmtree(WORK / "tests")
        archive = subprocess.run(["git", "archive", tests_rev, "tests"], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(WORK)], input=archive.stdout, check=True)
        shutil.copy2(ROOT / "tests" / "conftest.py", WORK / "tests" / "conftest.py")


def deselect(tests: list[str]) -> None:
    """Leave these tests out of the copy's test selection (old tests that fail against today's package)."""
    cfg = WORK / "setup.cfg"
    key = "pytest_add_cli_args_test_selection = tests/\n"
    text = cfg.read_text()
    if key not in text:
        raise SystemExit(f"{cfg}: no '{key.strip()}' line to add --deselect to")
    cfg.write_text(text.replace(key, key + "".join(f"    --deselect={t}\n" for t in tests)))


def survivors(names: list[str]) -> list[str]:
    """The mutants of these modules that survived the last run, or that no test reached (to re-test them
    after adding tests)."""
    found = []
    for name in names:
        meta = WORK / "mutants" / "coursehelpers" / f"{name}.py.meta"
        if meta.is_file():
            found += [k for k, c in json.loads(meta.read_text())["exit_code_by_key"].items()
                      if STATUS.get(c) in ("survived", "no tests")]
    return found


def run(names: list[str], jobs: int | None = None, only_survivors: bool = False) -> int:
    """mutmut over the mutants of these modules (one run: the tests' coverage is measured once).

    ``jobs``: how many mutants mutmut tests at once (its default: one per core).
    ``only_survivors``: only those that survived the last run.
    """
    patterns = [f"coursehelpers.{name.replace('/', '.')}.*" for name in names]
    if only_survivors:
        patterns = survivors(names)
        if not patterns:
            return 0
    mutmut = Path(sys.executable).with_name("mutmut")
    children = [] if jobs is None else ["--max-children", str(jobs)]
    # mutmut forks each mutant's test run from a process that has imported torch: a thread pool does not
    # survive a fork (the child waits on threads it no longer has, until mutmut calls it a timeout).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.call([str(mutmut), "run", *children, *patterns], cwd=WORK, env=env)


def scores(names: list[str]) -> list[tuple[str, Counter]]:
    """Per module, how many mutants ended in each state (from mutmut's .meta files)."""
    rows = []
    for name in names:
        meta = WORK / "mutants" / "coursehelpers" / f"{name}.py.meta"
        if meta.is_file():
            codes = json.loads(meta.read_text())["exit_code_by_key"].values()
            rows.append((name, Counter("not checked" if c is None else STATUS.get(c, "suspicious") for c in codes)))
    return rows


def report(rows: list[tuple[str, Counter]]) -> str:
    """The table `make mutants` prints: a module's score is killed / (all mutants that were run)."""
    lines = [f"{'module':<16}{'mutants':>8}{'killed':>8}{'survived':>9}{'no tests':>9}{'timeout':>8}{'score':>8}"]
    for name, n in rows:
        ran = sum(n.values()) - n["not checked"] - n["skipped"]
        killed = n["killed"] + n["timeout"]
        score = f"{100 * killed / ran:.0f}%" if ran else "-"
        lines.append(f"{name:<16}{sum(n.values()):>8}{killed:>8}{n['survived']:>9}{n['no tests']:>9}"
                     f"{n['timeout']:>8}{score:>8}")
    return "\n".join(lines)


def use_workdir(path: str) -> None:
    """Work in this copy instead of build/mutation/ (two runs at once must not share mutmut's files)."""
    global WORK
    WORK = (ROOT / path).resolve()
    if ROOT not in WORK.parents:
        raise SystemExit(f"--workdir {path}: must be a folder inside the repository (e.g. build/mutation-b)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="modules under coursehelpers/ (default: all)")
    parser.add_argument("--report", action="store_true", help="only print the last scores")
    parser.add_argument("--tests", metavar="REV", help="score the tests of this git revision (e.g. HEAD~5)")
    parser.add_argument("--deselect", action="append", default=[], metavar="NODEID",
                        help="leave this test out (with --tests: an old test that fails against today's package)")
    parser.add_argument("--survivors", action="store_true",
                        help="re-test only the mutants that survived the last run or that no test reached")
    parser.add_argument("--jobs", "-j", type=int, metavar="N",
                        help="mutants tested at once (default: one per core; 1 on a shared machine)")
    parser.add_argument("--workdir", metavar="DIR", help="the copy to work in (default: build/mutation)")
    args = parser.parse_args()
    if args.workdir:
        use_workdir(args.workdir)
    names = args.modules or modules()
    code = 0
    if not args.report:
        sync(args.tests)
        if args.deselect:
            deselect(args.deselect)
        code = run(names, args.jobs, args.survivors)
    print(report(scores(names)))
    print(f"survivors: cd {WORK.relative_to(ROOT)} && mutmut results; one of them: mutmut show NAME")
    return code


if __name__ == "__main__":
    sys.exit(main())
