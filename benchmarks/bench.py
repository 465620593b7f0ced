"""The course's speed, side by side with the tools a researcher would reach for, on this machine.

    pip install -r benchmarks/requirements.txt
    python benchmarks/bench.py --json benchmarks/results.json     # every section, under 15 minutes
    python benchmarks/bench.py --quick                            # a smoke test without the notebooks, about a minute
    python benchmarks/bench.py --only time                        # one section (training, time, latency, notebooks)
    python benchmarks/bench.py --no-notebooks                     # skip the notebook budget

Every contender runs in this one process (the notebooks in their own), with the same thread count (the
library's default, one), and the contenders alternate (within each round, or run after run), so that machine
noise falls on all of them alike. The tables give medians over rounds and ratios against our model.
See BENCHMARKS.md for a run and how to read it.

1. training: a training step (forward, backward, AdamW) on the same data: our Transformer against Hugging
   Face's GPT2Model and torch.nn.TransformerEncoder of identical width, depth, heads and sequence length, at the
   course's Part I and Part II sizes. GPT-2 and TransformerEncoder always carry an MLP; our course models are
   attention-only, so "ours + MLP" is listed too: it is the like-for-like architecture. Beside it, how close to
   the machine: the FLOP/s a step achieves (FLOPs counted by torch's FlopCounterMode) as a fraction of a large
   fp32 matmul measured in the same run; and our Part II step with one and with two threads.
2. time: time to result, in wall seconds. Part I: until each depth task reaches its threshold accuracy at the
   depth that should suffice, for our recipe (depth.RECIPES, the library's train()) and for GPT-2 with the
   recipe of Garg et al. (2022) on the same data, each run under a wall-clock cap. Part II: until the default
   model (attnlab.heads) beats tuned ridge on the task's metric, and where GPT-2 stands after the same time.
3. latency: slider latency, from a new value to a finished PNG, for the zoo-backed views.
4. notebooks: time and peak memory of every solution notebook, by benchmarks/notebook_budget.py. Today that is
   about a minute; if the course's notebooks grow so that the whole run passes 15 minutes, skip it with
   --no-notebooks and run it on its own (--only notebooks).
"""
import argparse
import inspect
import io
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from attnlab import Config, Transformer, baselines, depth, heads, pick_device, plots, train, widgets

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("training", "time", "latency", "notebooks")
BUDGET_S = 15 * 60  # the whole benchmark, every section, must fit in 15 minutes


# ---------------------------------------------------------------------------------------------------------------
# 1. Training step: steps/s, FLOP/s against a large matmul, threads
# ---------------------------------------------------------------------------------------------------------------

class Readout(nn.Module):
    """A contender's trunk between the course's read-in and read-out, so every contender sees the same data."""

    def __init__(self, trunk, cfg):
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.width) if cfg.vocab_size else nn.Linear(cfg.input_dim, cfg.width)
        self.trunk, self.unembed = trunk, nn.Linear(cfg.width, cfg.output_dim)
        self.causal = nn.Transformer.generate_square_subsequent_mask(cfg.max_len)

    def forward(self, x):
        h = self.embed(x)
        if isinstance(self.trunk, nn.TransformerEncoder):
            h = self.trunk(h, mask=self.causal[:h.shape[1], :h.shape[1]], is_causal=True)
        else:  # GPT2Model: causal by construction, its own positional table
            h = self.trunk(inputs_embeds=h).last_hidden_state
        return self.unembed(h)


def gpt2(cfg):
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(n_embd=cfg.width, n_layer=cfg.depth, n_head=cfg.heads, n_positions=cfg.max_len,
                        vocab_size=1, bos_token_id=None, eos_token_id=None, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0)
    return Readout(GPT2Model(config), cfg)


def torch_encoder(cfg):
    layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, 4 * cfg.width, dropout=0.0, batch_first=True,
                                       norm_first=True)
    return Readout(nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False), cfg)


def course_sizes():
    """The default Part I (in-context QA at depth 2) and Part II (the heads study's default) configurations."""
    icqa = depth.make_task("icqa")
    part1 = depth.make_model("icqa", 2, icqa).cfg
    task2 = heads.make_task()
    part2 = heads.make_model(task2).cfg
    return {"part1_icqa": (part1, icqa, depth.RECIPES["icqa"].batch_size),
            "part2_regression": (part2, task2, heads.TRAINING["batch_size"])}


def contenders(cfg):
    with_mlp = Config(**{**vars(cfg), "mlp": True})
    return {"ours": lambda: Transformer(cfg), "ours + MLP": lambda: Transformer(with_mlp),
            "GPT2Model": lambda: gpt2(cfg), "nn.TransformerEncoder": lambda: torch_encoder(cfg)}


def step_function(model, task, batch):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        loss = task.loss(model(batch[0]), batch[1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def steps_per_second(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def flops_per_step(step):
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def matmul_flops_per_second(n=2048, repeats=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def thread_choice(rounds, steps_each):
    """Our Part II training step with 1 and with 2 CPU threads, alternating: the evidence for the default."""
    cfg, task, batch_size = course_sizes()["part2_regression"]
    batch = task.sample(batch_size, torch.Generator().manual_seed(0), "train")
    step = step_function(Transformer(cfg), task, batch)
    speed = {1: [], 2: []}
    for _ in range(rounds):
        for threads in speed:
            torch.set_num_threads(threads)
            speed[threads].append(steps_per_second(step, steps_each))
    torch.set_num_threads(1)
    medians = {threads: round(statistics.median(runs), 2) for threads, runs in speed.items()}
    print(f"\nours, Part II size, steps/s by CPU threads: {medians}")
    return medians


def training_section(rounds, steps_each, report):
    """Steps/s of every contender at both course sizes, alternating within each round; FLOP/s as a share of a
    large matmul timed in the same rounds (so it sees the same machine load)."""
    print(f"\n== training step: {rounds} rounds of {steps_each} steps ==")
    peak = []
    for name, (cfg, task, batch_size) in course_sizes().items():
        batch = task.sample(batch_size, torch.Generator().manual_seed(0), "train")
        steps = {}
        for label, make in contenders(cfg).items():
            torch.manual_seed(0)
            steps[label] = step_function(make(), task, batch)
            steps[label]()  # warm up
        flops = {label: flops_per_step(step) for label, step in steps.items()}
        speed = {label: [] for label in steps}
        for _ in range(rounds):
            peak.append(matmul_flops_per_second())
            for label, step in steps.items():  # alternate: every contender once per round
                speed[label].append(steps_per_second(step, steps_each))
        machine = statistics.median(peak)
        print(f"\n{name}: width {cfg.width}, depth {cfg.depth}, heads {cfg.heads}, sequence {task.seq_len}, "
              f"batch {batch_size}; fp32 matmul peak {machine / 1e9:.1f} GFLOP/s")
        print(f"{'contender':24s} {'steps/s':>9s} {'ours is':>9s} {'MFLOP/step':>11s} {'of peak':>8s}")
        ours = statistics.median(speed["ours"])
        for label, runs in speed.items():
            median = statistics.median(runs)
            fraction = flops[label] * median / machine
            print(f"{label:24s} {median:9.1f} {ours / median:8.2f}x {flops[label] / 1e6:11.1f} {fraction:8.1%}")
            report["training"].append({"size": name, "contender": label, "steps_per_s": round(median, 2),
                                       "ours_speedup": round(ours / median, 2), "flops_per_step": flops[label],
                                       "fraction_of_matmul_peak": round(fraction, 4)})
    report["matmul_peak_flops"] = statistics.median(peak)
    report["threads_steps_per_s"] = thread_choice(rounds, steps_each)


# ---------------------------------------------------------------------------------------------------------------
# 2. Time to result: wall seconds until a run reaches what the course claims it reaches
# ---------------------------------------------------------------------------------------------------------------

# Part I: (depth that should suffice, threshold accuracy on the test split). The template task's test split
# draws its tokens from ones never seen in training, so its threshold is generalization, not memory.
PART1_GOALS = {"memorization": (1, 0.99), "icqa": (2, 0.95), "template": (2, 0.95),
               "in_context_template": (3, 0.95)}
# The recipe of Garg et al. (2022), "What can transformers learn in context?", and of most in-context-learning
# code since: Adam at a constant lr of 1e-4, batch 64, no warm-up, no decay, no gradient clipping.
GPT2_RECIPE = {"lr": 1e-4, "batch_size": 64}
# train()'s own defaults (the Part II training settings do not set eval_size): GPT-2 is evaluated the same way.
TRAIN_DEFAULTS = {k: p.default for k, p in inspect.signature(train).parameters.items()}
CHECK_SIZE = 4000  # prompts in the Part II check of the final metric (the fixed test batch has only 512)


class OutOfTime(Exception):
    """A run passed its wall-clock cap without reaching its target."""


class Stopwatch:
    """One run's clock: wall seconds, training steps and the test metric at every evaluation, against a target."""

    def __init__(self, target, higher_is_better, cap_s):
        self.target, self.higher_is_better, self.cap_s = target, higher_is_better, cap_s
        self.start, self.steps, self.log = time.perf_counter(), 0, []  # log: (seconds, steps, metric)

    def elapsed(self):
        return time.perf_counter() - self.start

    def reached(self, metric):
        return metric >= self.target if self.higher_is_better else metric <= self.target

    def summary(self):
        """Seconds and steps at the first evaluation that reached the target (None if none did), and the best metric."""
        hit = next((entry for entry in self.log if self.reached(entry[2])), None)
        best = (max if self.higher_is_better else min)(m for _, _, m in self.log) if self.log else float("nan")
        last = self.log[-1] if self.log else (self.elapsed(), self.steps, float("nan"))
        return {"reached": hit is not None, "seconds": round(hit[0], 1) if hit else None,
                "steps": hit[1] if hit else last[1], "best": best, "stopped_at_s": round(last[0], 1),
                "cap_s": self.cap_s}


class TimedTask:
    """A task as a training loop sees it, with a stopwatch on it: it counts training batches and logs every
    evaluation. The library's train() has a step budget but no wall-clock limit, so this ends a run that has
    passed the cap without reaching its target by raising OutOfTime at an evaluation."""

    def __init__(self, task, watch):
        self.task, self.watch = task, watch

    def __getattr__(self, name):  # everything else (loss, seq_len, higher_is_better, ...) is the task's
        return getattr(self.task, name)

    def sample(self, batch_size, generator, split="train"):
        self.watch.steps += split == "train"
        return self.task.sample(batch_size, generator, split)

    def metric(self, outputs, targets):
        value = self.task.metric(outputs, targets)
        self.watch.log.append((self.watch.elapsed(), self.watch.steps, value))
        if self.watch.elapsed() > self.watch.cap_s and not self.watch.reached(value):
            raise OutOfTime
        return value


def train_garg(model, timed, *, eval_every, eval_size, seed):
    """Garg et al.'s training loop (GPT2_RECIPE), on the same batches train(seed=seed) draws, evaluated on the
    same fixed test batch and as often; also at the cap, so that a capped run reports where it stands then.
    Returns when the target is reached; raises OutOfTime at the cap."""
    generator = torch.Generator().manual_seed(seed)  # train() draws its training batches from this generator
    test_inputs, test_targets = timed.sample(eval_size, torch.Generator().manual_seed(seed + 10_000), "test")
    optimizer = torch.optim.Adam(model.parameters(), lr=GPT2_RECIPE["lr"])
    for step in itertools.count(1):
        inputs, targets = timed.sample(GPT2_RECIPE["batch_size"], generator, "train")
        loss = timed.loss(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or timed.watch.elapsed() > timed.watch.cap_s:
            with torch.no_grad():
                if timed.watch.reached(timed.metric(model(test_inputs), test_targets)):
                    return


def part1_run(contender, task_name, seed, cap_s):
    """Train one contender on a Part I task at the depth that should suffice; returns its row of the table."""
    layers, threshold = PART1_GOALS[task_name]
    recipe = depth.RECIPES[task_name]
    task = depth.make_task(task_name, seed)
    torch.manual_seed(seed)  # the initial weights, as depth.train_depth_model seeds them
    model = depth.make_model(task_name, layers, task)
    if contender == "GPT-2":  # the same width, depth, heads and read-in/read-out, with GPT-2's blocks
        torch.manual_seed(seed)
        model = gpt2(model.cfg)
    watch = Stopwatch(threshold, True, cap_s)
    timed = TimedTask(task, watch)
    try:
        if contender == "ours":  # depth.train_depth_model's call, with the threshold as the early-stopping target
            train(model, timed, steps=recipe.steps, batch_size=recipe.batch_size, lr=recipe.lr,
                  eval_every=recipe.eval_every, eval_size=recipe.eval_size, target=threshold, seed=seed,
                  progress=False)
        else:
            train_garg(model, timed, eval_every=recipe.eval_every, eval_size=recipe.eval_size, seed=seed)
    except OutOfTime:
        pass
    # The early stop looked at a fixed batch of eval_size prompts: check on the larger test sample too.
    return {"task": task_name, "depth": layers, "threshold": threshold, "contender": contender, "seed": seed,
            **watch.summary(), "test_accuracy": depth.test_accuracy(model, task, seed)}


def ridge_reference(task, seed=0):
    """Tuned ridge's excess risk, averaged over the prediction positions exactly as the task's metric averages
    them (n = 0..n for the separate layout, n alone for the joint one): lambda tuned per n on held-out prompts,
    the risk measured on fresh prompts of the same distribution (attnlab.baselines.risk_curves)."""
    n_values = range(task.n + 1) if task.layout == "separate" else [task.n]
    curve = baselines.risk_curves(d=task.d, s=task.s, sigma=task.sigma, n_values=n_values, methods=("ridge",),
                                  seed=3_000_000 + seed)["ridge"]
    return statistics.fmean(curve["risk"])


@torch.no_grad()
def check_metric(model, task, seed):
    """The task's metric on CHECK_SIZE fresh test prompts: less noisy than the fixed batch training stops on."""
    inputs, targets = task.sample(CHECK_SIZE, torch.Generator().manual_seed(seed + 20_000), "test")
    return task.metric(model.eval()(inputs), targets)


def part2_run(contender, reference, cap_s, seed=0):
    """Train the Part II default model (or GPT-2 of the same size with its recipe) on the default task until its
    metric beats `reference` or `cap_s` seconds pass; returns its row."""
    task = heads.make_task()  # heads.TASK: follows the course's defaults
    model = heads.make_model(task, seed=seed)  # heads.LAYERS, HEADS, MODEL, POSITIONS
    if contender == "GPT-2":
        torch.manual_seed(seed)
        model = gpt2(model.cfg)
    watch = Stopwatch(reference, False, cap_s)
    timed = TimedTask(task, watch)
    try:
        if contender == "ours":  # heads.train_run's call, with ridge's risk as the early-stopping target
            train(model, timed, seed=seed, progress=False, target=reference, **heads.TRAINING)
        else:
            train_garg(model, timed, eval_every=heads.TRAINING["eval_every"], eval_size=TRAIN_DEFAULTS["eval_size"],
                       seed=seed)
    except OutOfTime:
        pass
    summary = watch.summary()
    return {"contender": contender, "seed": seed, **summary, "last": watch.log[-1][2] if watch.log else None,
            "check_metric": check_metric(model, task, seed)}


def ratio_text(ours, gpt):
    """GPT-2's time over ours: exact when both reached the target, a lower bound when GPT-2 was capped."""
    if not ours["reached"]:
        return "n/a (ours not reached)"
    if gpt["reached"]:
        return f"{gpt['seconds'] / max(ours['seconds'], 0.1):.1f}x"
    return f">= {gpt['stopped_at_s'] / max(ours['seconds'], 0.1):.0f}x (capped)"


def time_cell(row):
    """'1.2 s / 150 st' when the target was reached; '>= 100 s (best 39%)' when the run was capped. A '*' marks
    a run whose check on the larger test sample fell below the threshold its fixed test batch had reached."""
    if not row["reached"]:
        return f">= {row['stopped_at_s']:.0f} s (best {row['best']:.0%})"
    star = "*" if row["test_accuracy"] < row["threshold"] else ""
    return f"{row['seconds']:.1f} s / {row['steps']} st{star}"


def part1_section(ours_seeds, gpt2_seeds, cap_s):
    """Alternate the contenders run after run (ours, GPT-2, ours, ...) over the tasks and seeds. Our runs take
    seconds, so they are repeated over more seeds than GPT-2's, which can take the whole cap."""
    rows = []
    for seed in range(max(ours_seeds, gpt2_seeds)):
        for task_name in PART1_GOALS:
            for contender, seeds in (("ours", ours_seeds), ("GPT-2", gpt2_seeds)):
                if seed < seeds:
                    rows.append(part1_run(contender, task_name, seed, cap_s))
                    print(f"  {task_name} seed {seed} {contender}: {time_cell(rows[-1])}", flush=True)
    print(f"\ntime to threshold accuracy, Part I (wall seconds / training steps to reach it; cap {cap_s:.0f} s per run;"
          f" ours: median over seeds 0..{ours_seeds - 1}, GPT-2: seeds 0..{gpt2_seeds - 1})")
    print(f"{'task':20s} {'depth':>5s} {'threshold':>9s} {'ours':>17s} {'GPT-2 (Garg recipe)':>20s} "
          f"{'GPT-2 / ours':>15s}  test accuracy: ours / GPT-2")
    summary = []
    for task_name, (layers, threshold) in PART1_GOALS.items():
        per = {c: [r for r in rows if r["task"] == task_name and r["contender"] == c] for c in ("ours", "GPT-2")}
        ours, gpt = (median_row(per[c]) for c in ("ours", "GPT-2"))
        accuracy = " / ".join(" ".join(f"{r['test_accuracy']:.1%}" for r in per[c]) for c in ("ours", "GPT-2"))
        print(f"{task_name:20s} {layers:5d} {threshold:9.0%} {time_cell(ours):>17s} {time_cell(gpt):>20s} "
              f"{ratio_text(ours, gpt):>15s}  {accuracy}")
        summary.append({"task": task_name, "depth": layers, "threshold": threshold, "ours": ours, "GPT-2": gpt,
                        "ratio": ratio_text(ours, gpt)})
    print("* its fixed test batch reached the threshold, the check on the larger test sample did not")
    return {"runs": rows, "summary": summary}


def median_row(runs):
    """One row for several seeds: the median time over the seeds, if every seed reached the target; else the
    first run that did not (an honest lower bound beats a median that hides a failure)."""
    missed = [r for r in runs if not r["reached"]]
    if missed:
        return missed[0]
    seconds = statistics.median(r["seconds"] for r in runs)
    return {**runs[0], "seconds": round(seconds, 1), "steps": int(statistics.median(r["steps"] for r in runs)),
            "test_accuracy": min(r["test_accuracy"] for r in runs), "seconds_each": [r["seconds"] for r in runs]}


def part2_section(cap_s, seed=0):
    """Ours until it beats tuned ridge (or the cap); then GPT-2 with its recipe for the same wall time."""
    task = heads.make_task()
    reference = ridge_reference(task, seed)
    ours = part2_run("ours", reference, cap_s, seed)
    print(f"  Part II ours: {ours['stopped_at_s']:.0f} s, {ours['steps']} steps, metric {ours['last']:.3f}", flush=True)
    gpt = part2_run("GPT-2", reference, ours["stopped_at_s"], seed)  # the same wall time as ours
    print(f"  Part II GPT-2: {gpt['stopped_at_s']:.0f} s, {gpt['steps']} steps, metric {gpt['last']:.3f}", flush=True)
    where = "separate layout: averaged over n = 0.." + str(task.n) if task.layout == "separate" else f"at n = {task.n}"
    print(f"\ntime to beat tuned ridge, Part II default ({heads.LAYERS} layers, {heads.HEADS} heads, {task}); "
          f"metric: excess risk ({where}); ridge {reference:.3f}; cap {cap_s:.0f} s")
    print(f"{'contender':22s} {'beats ridge after':>18s} {'steps':>7s} {'metric then':>12s} {'best':>7s} "
          f"{'check (' + str(CHECK_SIZE) + ')':>13s}")
    for row in (ours, gpt):
        when = f"{row['seconds']:.1f} s" if row["reached"] else f"not in {row['stopped_at_s']:.0f} s"
        print(f"{row['contender']:22s} {when:>18s} {row['steps']:7d} {row['last']:12.3f} {row['best']:7.3f} "
              f"{row['check_metric']:13.3f}")
    return {"ridge": reference, "metric": f"excess risk, {where}", "ours": ours, "GPT-2": gpt}


def time_section(ours_seeds, gpt2_seeds, cap1_s, cap2_s, report):
    print(f"\n== time to result (GPT-2: GPT2Model trunk, Adam lr {GPT2_RECIPE['lr']}, batch "
          f"{GPT2_RECIPE['batch_size']}, constant lr, no clipping) ==", flush=True)
    report["time_to_result"] = {"gpt2_recipe": GPT2_RECIPE, "part1": part1_section(ours_seeds, gpt2_seeds, cap1_s),
                                "part2": part2_section(cap2_s)}


# ---------------------------------------------------------------------------------------------------------------
# 3. Slider latency, 4. notebook budget
# ---------------------------------------------------------------------------------------------------------------

def slider_views():
    """{view: (draw(value index), why it is missing or None)}. The heads explorer is new: if
    attnlab.widgets.heads_view does not exist yet, the benchmark says so and runs on."""
    views = {"depth explorer": (lambda r: widgets.depth_view("icqa", 1 + r % 4), None),
             "softmax scaling": (lambda r: plots.softmax_scaling(8 * (1 + r % 4)), None)}
    heads_view = getattr(widgets, "heads_view", None)
    if heads_view is None:
        views["heads explorer"] = (None, "attnlab.widgets.heads_view does not exist yet")
    else:  # slide over the explorer's grid: layers, then heads
        grid = list(itertools.product(getattr(heads, "ZOO_LAYERS", (heads.LAYERS,)),
                                      getattr(heads, "ZOO_HEADS", (heads.HEADS,))))
        views["heads explorer"] = (lambda r: heads_view(*grid[r % len(grid)]), None)
    return views


def slider_latency(rounds):
    """Seconds from a new slider value to a finished PNG of the view, per explorer, median over rounds; a view
    that fails (a missing function, a zoo model not built yet) gets its reason instead of a time."""
    latency = {}
    for name, (draw, missing) in slider_views().items():
        if missing:
            latency[name] = missing
            continue
        times = []
        try:
            for r in range(rounds):
                start = time.perf_counter()
                fig = draw(r)
                fig.savefig(io.BytesIO(), format="png")
                times.append(time.perf_counter() - start)
                plots.plt.close(fig)
        except Exception as error:  # noqa: BLE001 - a view under construction must not stop the benchmark
            latency[name] = f"failed: {type(error).__name__}: {error}"
            continue
        latency[name] = round(statistics.median(times), 3)
    return latency


def latency_section(rounds, report):
    report["slider_latency_s"] = slider_latency(rounds)
    print("\nslider latency (new value to finished PNG), median (budget 0.5 s):")
    for view, seconds in report["slider_latency_s"].items():
        print(f"  {view:20s} " + (f"{seconds:.3f} s" if isinstance(seconds, float) else seconds))


def measure_notebook(path):
    """Time and peak memory of one solution notebook, by benchmarks/notebook_budget.py in a fresh process, not
    in this one: it reads the kernel's peak memory from ru_maxrss, and on Linux that survives fork and exec, so
    a kernel started from this process (over a GB by now) would report this process's peak as its own. One
    process per notebook, so that a failing notebook is reported and the others are still measured."""
    script = Path(__file__).with_name("notebook_budget.py")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "notebook.json"
        done = subprocess.run([sys.executable, str(script), "--json", str(out), str(path)], capture_output=True,
                              text=True, env={**os.environ, "ATTNLAB_PROGRESS": "0"})
        if done.returncode == 0:
            return json.loads(out.read_text())[0]
    lines = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", done.stderr).splitlines() if line.strip()]
    return {"notebook": str(path.relative_to(ROOT)), "error": lines[-1] if lines else f"exit status {done.returncode}"}


def notebook_section(report):
    print("\nnotebooks, top to bottom in a fresh kernel (the course's budget: 180 s, 1536 MB):")
    report["notebooks"] = []
    for path in sorted((ROOT / "solutions").rglob("*.ipynb")):
        row = measure_notebook(path)
        report["notebooks"].append(row)
        if "error" in row:
            print(f"  {row['notebook']:58s} FAILED: {row['error'][:200]}", flush=True)
        else:
            print(f"  {row['notebook']:58s} {row['seconds']:7.1f} s {row['peak_mb']:6d} MB  "
                  f"{'within budget' if row['within_budget'] else 'OVER BUDGET'}", flush=True)


# ---------------------------------------------------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable)")
    parser.add_argument("--no-notebooks", action="store_true", help="skip the notebook budget (each notebook "
                        "may take up to 3 minutes by the course's budget)")
    parser.add_argument("--quick", action="store_true", help="tiny rounds and caps: a smoke test")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the training-step and latency sections")
    parser.add_argument("--steps", type=int, default=20, help="training steps per contender per round")
    parser.add_argument("--seeds-ours", type=int, default=3, help="seeds of our Part I time-to-result runs")
    parser.add_argument("--seeds-gpt2", type=int, default=1, help="seeds of GPT-2's (each can take the whole cap)")
    parser.add_argument("--cap-part1", type=float, default=100, help="wall-clock cap per Part I run, seconds")
    parser.add_argument("--cap-part2", type=float, default=170, help="wall-clock cap of our Part II run, seconds "
                        "(GPT-2 then gets as long as ours took)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if min(args.rounds, args.steps, args.seeds_ours, args.seeds_gpt2) < 1 or min(args.cap_part1, args.cap_part2) <= 0:
        parser.error("--rounds, --steps and the seeds must be at least 1, and the caps positive")
    if args.quick:
        args.rounds, args.steps, args.seeds_ours, args.seeds_gpt2, args.cap_part1, args.cap_part2 = 2, 3, 2, 1, 3, 8
    skip_notebooks = args.no_notebooks or args.quick  # a smoke test of the benchmark, not of the notebooks
    args.sections = args.only or [s for s in SECTIONS if s != "notebooks" or not skip_notebooks]
    return args


def main():
    args = parse_args()
    pick_device("cpu")  # the library's thread choice, for every contender alike
    start = time.perf_counter()
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "sections": args.sections, "load_average_start": os.getloadavg(),
              "training": [], "section_s": {}}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); sections {', '.join(args.sections)}; "
          f"load average {os.getloadavg()[0]:.2f}")
    run = {"training": lambda: training_section(args.rounds, args.steps, report),
           "time": lambda: time_section(args.seeds_ours, args.seeds_gpt2, args.cap_part1, args.cap_part2, report),
           "latency": lambda: latency_section(args.rounds, report),
           "notebooks": lambda: notebook_section(report)}
    for section in SECTIONS:  # always in this order, whatever the order of --only
        if section in args.sections:
            began = time.perf_counter()
            run[section]()
            report["section_s"][section] = round(time.perf_counter() - began, 1)
    report["load_average_end"] = os.getloadavg()
    report["wall_s"] = round(time.perf_counter() - start, 1)
    sections = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report["section_s"].items())
    print(f"\ntotal wall time {report['wall_s']:.0f} s ({sections}); load average (1 min) at start "
          f"{report['load_average_start'][0]:.2f}, at end {report['load_average_end'][0]:.2f}")
    if report["wall_s"] > BUDGET_S:
        print(f"OVER the {BUDGET_S // 60} minute budget: lower --cap-part2 or --cap-part1, or use --no-notebooks")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
