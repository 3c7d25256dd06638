"""The table `benchmarks/gpu_check.py` prints and writes: one block per part, read from the report it saves as JSON.

Each block says what was measured and against what goal; a part that failed shows its error, one that was
skipped says why. benchmarks/README.md says how to read each block.
"""
from __future__ import annotations

import json


def describe(error: BaseException) -> str:
    """An exception as one short line: its type and message."""
    return f"{type(error).__name__}: {error}".strip()[:500]


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def format_case(c: dict) -> str:
    """One lesson run: variant, steps, loss of the first -> last quarter, metric vs the CPU, peak memory, time."""
    layout = {None: "", True: " cl", False: " nchw"}[c.get("channels_last")]
    head = f"{c['lesson']:<16} {c.get('precision', ''):>4}{layout:<5} s{c.get('seed', '')}"
    if "error" in c or "skipped" in c:
        return f"{head}  {'ERROR ' + c['error'] if 'error' in c else 'skipped: ' + c['skipped']}"
    line = (f"{head} {c['steps']:5d} {c['loss_first_quarter']:8.3f} ->{c['loss_last_quarter']:7.3f} "
            f"{'falls' if c['loss_falls'] else 'RISES':5} {c['metric']:>12} "
            f"{c['untrained_value']:7.4f} ->{c['value']:7.4f}")
    if "cpu_mean" in c:
        line += f"  cpu {c['cpu_mean']:.4f} ± {c['tolerance']:.4f} {'ok' if c['within_tolerance'] else 'OUTSIDE'}"
    elif c.get("reference"):
        line += f"  ({c['reference']})"
    peak = f" {c['peak_gpu_mib']:7.0f} MiB" if "peak_gpu_mib" in c else ""
    return f"{line}{peak} {c['seconds']:6.1f} s"


def format_lessons(r: dict) -> list[str]:
    header = (f"  {'lesson':<16} {'variant':<11} {'steps':>5} {'loss: first -> last':>22} {'metric':>12}"
              f" {'untrained -> trained':>20}")
    summary = (f"  {r['runs']} runs: {r['runs_trained']} trained, {r['runs_failed']} failed, {r['runs_skipped']} "
               f"skipped; the loss fell in {r['losses_fall']} of {r['runs_trained']}; the metric was within the "
               f"CPU's tolerance in {r['within_tolerance']} of {r['compared']} compared ({r['tolerance']})")
    return [header, *("  " + format_case(c) for c in r["cases"]), summary]


def format_environment(r: dict) -> list[str]:
    return ["  " + ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("settings", "seconds"))]


def format_loop(r: dict) -> list[str]:
    return [f"  {r['arch']} {r['image_size']} px, batch {r['bs']}, {r['batches']} batches, {r['precision']}: "
            f"hand loop {r['hand_images_per_s']:.1f} images/s, Learner.fit {r['learner_images_per_s']:.1f} images/s",
            f"  ratio learner/hand {r['ratio']:.3f} (goal >= {r['goal']}: {met(r['met'])})"]


def format_guard(r: dict) -> list[str]:
    rates = ", ".join(f"{k} {v:.1f} images/s" for k, v in r["images_per_s"].items())
    per_check = f", {r['ms_per_extra_check']:.2f} ms per extra check" if r["ms_per_extra_check"] is not None else ""
    note = "" if r["applies"] else " (a CPU checks each loss before its step: no snapshot in a fit)"
    return [f"  {r['batches']} batches/epoch: {rates}",
            f"  cost of the periodic check: {r['cost']:+.2%}{per_check}; "
            f"one snapshot (weights + optimizer) {r['snapshot_ms']:.2f} ms{note}"]


def format_data_path(r: dict) -> list[str]:
    lines = [f"  {r['images']} JPEGs ({r['distinct_jpegs']} distinct) -> {r['item_size']} px items -> "
             f"{r['image_size']} px batches of {r['bs']}; model only: {r['model_only_images_per_s']:.1f} images/s"]
    for name, p in r["paths"].items():
        if "error" in p:
            lines.append(f"  {name:<28} ERROR {p['error']}")
            continue
        lines.append(f"  {name:<28} training {p['train_images_per_s']:8.1f} images/s = "
                     f"{p['train_vs_model_only']:6.1%} of model only; data alone "
                     f"{p['data_images_per_s']:8.1f} images/s")
    return lines + [f"  best {r['best']:.1%} (goal >= {r['goal']:.0%}: {met(r['met'])})"]


def format_fastai(r: dict) -> list[str]:
    ours, theirs = ({k: r[k][who] for k in ("train_images_per_s", "data_images_per_s")}
                    for who in ("coursehelpers", "fastai"))
    return [f"  fastai {r['fastai']}, {r['workers']} workers, {r['images']} images, ours vs fastai's:",
            f"  training {ours['train_images_per_s']:.1f} vs {theirs['train_images_per_s']:.1f} images/s "
            f"({r['train_ratio']:.2f}x); data alone {ours['data_images_per_s']:.1f} vs "
            f"{theirs['data_images_per_s']:.1f} images/s ({r['data_ratio']:.2f}x)"]


def format_weightdrop(r: dict) -> list[str]:
    return [f"  cuDNN RNN kernel ran: {r['cudnn_rnn_ran']}; grad of the dropped matrix: norm {r['grad_norm']:.3g}, "
            f"finite {r['grad_finite']}; eval vs CPU: max |diff| {r['eval_max_abs_diff_vs_cpu']:.2e}",
            f"  autocast bf16: {r['autocast_bfloat16']}; fp16: {r['autocast_float16']}",
            f"  training {r['steps']} steps: loss {r['loss_first_quarter']:.4f} -> {r['loss_last_quarter']:.4f} "
            f"({'falls' if r['loss_falls'] else 'RISES'})"]


FORMATTERS = {"environment": format_environment, "weightdrop": format_weightdrop, "lessons": format_lessons,
              "loop": format_loop, "guard": format_guard, "data_path": format_data_path, "fastai": format_fastai}


def format_section(name: str, r: dict) -> list[str]:
    """A part's lines; an error or a skip says so."""
    if "error" in r:
        return [f"  ERROR {r['error']}"]
    if "skipped" in r:
        return [f"  skipped: {r['skipped']}"]
    return FORMATTERS[name](r)


def table(report: dict) -> str:
    """Every part's block, in the order they ran."""
    lines = []
    for name, r in report.items():
        lines.append(f"== {name}" + (f" ({r['seconds']:.0f} s)" if "seconds" in r else ""))
        try:
            lines += format_section(name, r)
        except (KeyError, TypeError, ValueError) as e:  # an unexpected result: show it raw rather than lose it
            lines.append(f"  (could not format: {describe(e)}) {json.dumps(r, default=str)[:400]}")
    return "\n".join(lines) + "\n"
