"""Benchmark section 2, time to result: wall seconds until our recipe, and GPT-2 with the recipe of Garg et al.
(2022), reach what the course claims (see bench.py)."""
import inspect
import itertools
import statistics
import time

import torch

from attnlab import baselines, depth, heads, seeds, train
from training_step import gpt2


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
    test_inputs, test_targets = timed.sample(eval_size, seeds.generator(seed, "early_stopping"), "test")
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
        if contender == "ours":  # depth.train_depth_model's first attempt, the threshold as its target
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
                                  seed=seeds.stream_seed(seed, "benchmark_reference"))["ridge"]
    return statistics.fmean(curve["risk"])


@torch.no_grad()
def check_metric(model, task, seed):
    """The task's metric on CHECK_SIZE fresh test prompts: less noisy than the fixed batch training stops on."""
    inputs, targets = task.sample(CHECK_SIZE, seeds.generator(seed, "final_test"), "test")
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
            for contender, seed_count in (("ours", ours_seeds), ("GPT-2", gpt2_seeds)):
                if seed < seed_count:
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
