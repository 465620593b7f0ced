"""Does dividing pay? The dividing algorithm (attnlab.construction_dividing.normalized_gd) and the transformer whose
layer norm divides (attnlab.construction_layernorm, "layernorm") against gd with the same number of steps, ridge, the
course's construction (correlation_gd), preprocess_gd and the Lasso, on ten seeds.

Every method is tuned per n on training prompts and measured on held-out ones, drawn from the stream of the
construction's risk study (seeds.generator(seed, "construction_risks")), so the numbers pair with issue #30's.
Differences between two methods are paired: the same held-out prompts, per prompt the mean over n = s..d-1 of
the difference of squared errors, with a 95% normal interval over the prompts.
"""
import itertools
import statistics
import time

import torch

from .. import analysis as an
from .. import baselines as bl
from .. import paired as pairing
from .. import construction_layernorm as layernorm
from ..construction_dividing import GRID, normalized_gd
from ..seeds import generator
from ..tasks.regression import encode, sample_prompts
from .config import EVAL_PROMPTS, underdetermined_range
from .run import make_task

METHODS = ("dividing", "layernorm", "gd", "ridge", "correlation_gd", "preprocess_gd", "lasso")
STEPS = (2, 3)  # gradient layers a transformer of 3 or 4 layers has after its preprocessing layer
COMPARED = ("vs_gd", "vs_ridge", "layernorm_vs_gd", "layernorm_vs_ridge")  # keys of a ten_seeds row


def _errors(method, prompts, params):
    """(B,) squared error of a method on each prompt. "layernorm" is the transformer that
    attnlab.construction_layernorm builds, run on the prompts' tokens."""
    if method == "dividing":
        pred = normalized_gd(prompts.X, prompts.y, prompts.x_query, **params)
    elif method == "layernorm":
        model = layernorm.build(prompts.X.shape[-1], dtype=prompts.X.dtype, **params)
        with torch.no_grad():
            pred = model(encode(prompts, "joint"))[:, -1, 0]
    else:
        pred = bl.predict(method, prompts, **params)
    return (pred - prompts.target) ** 2


def _tune(method, prompts, steps):
    """The grid's best params on these prompts, as baselines.tune (which knows only the library's methods). The
    layer-norm transformer is tuned through its plain algorithm (feature_gd, all its grid at once), which it computes
    to within 1e-4 of mean risk."""
    if method == "layernorm":
        return layernorm.tune(prompts.X, prompts.y, prompts.x_query, prompts.target, steps)
    grid = GRID if method == "dividing" else bl.GRIDS[method]
    fixed = {"steps": steps} if method in ("dividing", "gd", "preprocess_gd", "correlation_gd") else {}
    names = sorted(grid)
    best, best_risk = None, float("inf")
    for values in itertools.product(*(grid[k] for k in names)):
        params = dict(zip(names, values), **fixed)
        r = _errors(method, prompts, params).mean().item()
        if r < best_risk:
            best, best_risk = params, r
    return best


def seed_errors(task, seed, steps, num_tune=2000, num_eval=EVAL_PROMPTS, model=None):
    """{method: (B, len(n_values)) squared errors on the held-out prompts}, and {method: [params per n]}. With a
    trained `model` for the task, its errors on the same prompts too, as "trained" (in float32, as it was trained).

    Notebooks: II.5"""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    g = generator(seed, "construction_risks")
    tune_p = sample_prompts(num_tune, task.d, task.s, task.d, task.sigma, g, torch.float64)
    eval_p = sample_prompts(num_eval, task.d, task.s, task.d, task.sigma, g, torch.float64)
    errors, params = {}, {}
    for method in METHODS:
        tuned = [_tune(method, tune_p.first(n), steps) for n in underdetermined_range(task)]
        errors[method] = torch.stack([_errors(method, eval_p.first(n), p)
                                      for n, p in zip(underdetermined_range(task), tuned)], 1)
        params[method] = tuned
    if model is not None:
        single = eval_p.to(dtype=torch.float32)
        errors["trained"] = an.errors_by_n(model, task, single)[:, list(underdetermined_range(task))].double()
    return errors, params


def paired(errors, a, b):
    """(mean, low, high): the paired difference of mean risk a - b over n, with its 95% interval over prompts.

    Notebooks: II.5"""
    mean, (low, high) = pairing.paired_difference(errors[a].mean(1), errors[b].mean(1))
    return mean, low, high


def ten_seeds(steps, seeds=range(10), task=None):
    """One row per seed: risk per n of each method, and the paired differences dividing - gd, dividing - ridge."""
    task = task or make_task()
    rows = []
    for seed in seeds:
        errors, params = seed_errors(task, seed, steps)
        rows.append({"seed": seed, "risk": {m: e.mean(0).tolist() for m, e in errors.items()},
                     "vs_gd": paired(errors, "dividing", "gd"), "vs_ridge": paired(errors, "dividing", "ridge"),
                     "layernorm_vs_gd": paired(errors, "layernorm", "gd"),
                     "layernorm_vs_ridge": paired(errors, "layernorm", "ridge"),
                     "params": params["dividing"], "layernorm_params": params["layernorm"]})
    return rows


def summary(rows, key):
    """(median, worst, holds, pooled): the paired difference over seeds; holds counts the seeds whose 95% interval
    lies wholly below 0; pooled is (mean, low, high) over all seeds' prompts together (independent prompts)."""
    means = [r[key][0] for r in rows]
    halves = [(r[key][2] - r[key][1]) / 2 for r in rows]
    mean, half = sum(means) / len(means), sum(h ** 2 for h in halves) ** 0.5 / len(halves)
    return statistics.median(means), max(means), sum(r[key][2] < 0 for r in rows), (mean, mean - half, mean + half)


def _name(key):
    """"layernorm - ridge" for the row key layernorm_vs_ridge, "dividing - gd" for vs_gd."""
    return key.replace("_vs_", " - ").replace("vs_", "dividing - ")


def main(seeds=range(10)):
    """Print the ten-seed table for each number of gradient steps."""
    task = make_task()
    for steps in STEPS:
        start = time.time()
        rows = ten_seeds(steps, seeds, task)
        print(f"\n{steps} gradient steps; risk at n = {list(underdetermined_range(task))}, mean over n in brackets")
        for r in rows:
            cells = "  ".join(f"{m} " + "/".join(f"{v:.3f}" for v in r["risk"][m])
                              + f" [{sum(r['risk'][m]) / len(r['risk'][m]):.3f}]" for m in METHODS)
            print(f"seed {r['seed']}: {cells}")
            print("         " + "   ".join(f"{_name(key)} {r[key][0]:+.4f} ({r[key][1]:+.4f}, {r[key][2]:+.4f})"
                                            for key in COMPARED))
            print("         tuned dividing (lr, beta) " + " ".join(f"({p['lr']}, {p['beta']})" for p in r["params"])
                  + ";  layernorm (lrs, gamma, delta) "
                  + " ".join(f"({p['lrs']}, {p['gamma']}, {p['delta']})" for p in r["layernorm_params"]))
        for key in COMPARED:
            median, worst, holds, (mean, low, high) = summary(rows, key)
            below = sum(r[key][0] < 0 for r in rows)
            print(f"{_name(key):18s}: median {median:+.4f}, worst {worst:+.4f}, below in {below}/{len(rows)} seeds "
                  f"({holds} with the 95% interval below 0); all seeds pooled {mean:+.4f} ({low:+.4f}, {high:+.4f})")
        print(f"({time.time() - start:.0f} s)")
