"""benchmarks/image_pipeline.py keeps running (its timings are read by people, not asserted here)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_image_pipeline_benchmark_runs_and_prints_its_table():
    args = ["--images", "10", "--bs", "4", "--item-size", "48", "--size", "32", "--repeats", "1", "--no-fastai"]
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "image_pipeline.py"), *args],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line.split()[0] for line in run.stdout.splitlines() if "load" in line and "prepare" in line]
    assert rows[0] == "now" and "fastai: skipped: --no-fastai was given" in run.stdout
    # the previous column needs the git history; where there is none it says why it was skipped
    assert "now vs previous:" in run.stdout or "previous: skipped:" in run.stdout
    assert "one 4000x3000 JPEG to a presized item: now" in run.stdout
