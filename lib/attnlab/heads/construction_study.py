"""The hand-built construction (attnlab.construction) measured as Part II measures a trained model: exactness,
risk against gd and ridge, and the head pattern it has by design."""
import torch

from .. import analysis as an
from .. import baselines as bl
from .. import construction, construction_layernorm
from ..seeds import generator
from ..tasks.regression import sample_prompts
from .config import EVAL_PROMPTS, LAYERS, claim_range, underdetermined_range
from .dividing_study import paired, seed_errors
from .run import prompts


# The construction's preprocessing weight when it is built to show its head pattern: with beta = 0 its first layer
# would be unused, and larger ones diverge on prompts with few examples. The risk comparison tunes beta instead.
DESIGN_BETA = 0.01


def _cells(grid, name):
    """JSON rows {layer, head, name: value} of a (layers, heads) grid."""
    return [{"layer": layer, "head": head, name: value}
            for layer, row in enumerate(grid.tolist()) for head, value in enumerate(row)]


def construction_study(task, seed, steps=LAYERS - 1, num_prompts=EVAL_PROMPTS):
    """The hand-built preprocess-then-optimize transformer (attnlab.construction) with `steps` gradient layers,
    measured like a trained model, as a JSON-ready dict: max_abs_diff (`construction_exactness`); risk and
    params (`construction_risks`); importance, effect and pruning of the model built to show its head pattern,
    with its beta, lr, mean risk and probing under "design" (`construction_pattern`)."""
    pattern = construction_pattern(task, seed, steps, num_prompts=num_prompts)
    measured = {key: pattern.pop(key) for key in ("importance", "effect", "pruning")}
    return {"steps": steps, "max_abs_diff": construction_exactness(task, seed, steps),
            **construction_risks(task, seed, steps, num_eval=num_prompts), **measured, "design": pattern}


def construction_exactness(task, seed, steps):
    """The construction's largest distance from the plain algorithm (baselines.correlation_gd) in float64, over
    n = 0..2d, with a random lr and beta for each n.

    Notebooks: II.5"""
    g = generator(seed, "construction")
    diffs = []
    for n in range(2 * task.d + 1):
        P = sample_prompts(256, task.d, task.s, n, task.sigma, g, torch.float64)
        lr, beta = 0.05 + 0.1 * torch.rand(1, generator=g).item(), torch.rand(1, generator=g).item()
        model = construction.build(task.d, steps, lr, beta, max_len=task.seq_len, dtype=torch.float64)
        got = model(task.encode(P))[:, -1, 0]
        diffs.append((got - bl.correlation_gd(P.X, P.y, P.x_query, steps, lr, beta)).abs().max().item())
    return max(diffs)


def construction_risks(task, seed, steps, num_tune=2000, num_eval=EVAL_PROMPTS):
    """{"risk": [{method, n, risk}], "params": [...]} for n = s..d-1, each method tuned per n on its own prompts:
    construction (lr and beta of correlation_gd), fixed_step_gd (beta = 0: what the construction is without its
    first layer), gd (the library's, with a step scaled per prompt, the same number of steps) and ridge.

    Notebooks: II.5"""
    g = generator(seed, "construction_risks")
    tune_p = sample_prompts(num_tune, task.d, task.s, task.d, task.sigma, g, torch.float64)
    eval_p = sample_prompts(num_eval, task.d, task.s, task.d, task.sigma, g, torch.float64)
    lr_grid = {"lr": bl.GRIDS["correlation_gd"]["lr"]}
    risk, params = [], []
    for n in underdetermined_range(task):
        tune_n, eval_n = tune_p.first(n), eval_p.first(n)
        tuned = {"construction": bl.tune("correlation_gd", tune_n, steps=steps)[0],
                 "fixed_step_gd": bl.tune("correlation_gd", tune_n, lr_grid, steps=steps, beta=0.0)[0],
                 "gd": bl.tune("gd", tune_n, steps=steps)[0], "ridge": bl.tune("ridge", tune_n)[0]}
        for method, p in tuned.items():
            algorithm = "correlation_gd" if method in ("construction", "fixed_step_gd") else method
            risk.append({"method": method, "n": n, "risk": bl.risk(algorithm, eval_n, **p)})
        params.append({"n": n, **tuned})
    return {"risk": risk, "params": params}


def construction_pattern(task, seed, steps, beta=DESIGN_BETA, num_prompts=EVAL_PROMPTS):
    """The construction with this beta and the lr that is best on average over n = s..d (tuned on the plain
    algorithm, on other prompts): its head importance (risk rise when masked), head effect (mean squared change
    of the prediction when masked), pruning and probing, measured as for a trained model."""
    rng = claim_range(task)
    tune_p = prompts(task, seed, "construction", 2000)
    lr = min(bl.GRIDS["correlation_gd"]["lr"],
             key=lambda lr: sum(bl.risk("correlation_gd", tune_p.first(n), steps=steps, lr=lr, beta=beta) for n in rng))
    model = construction.build(task.d, steps, lr, beta, max_len=task.seq_len)
    P = prompts(task, seed, "measure", num_prompts)
    importance, effect = an.head_importance(model, task, P, rng), an.head_effect(model, task, P, rng)
    fit, test = (prompts(task, seed, purpose, num_prompts) for purpose in ("probe_fit", "probe_test"))
    return {"beta": beta, "lr": lr, "mean_risk": an.mean_risk(model, task, P, None, rng),
            "importance": _cells(importance, "importance"), "effect": _cells(effect, "effect"),
            "pruning": an.pruning_risks(model, task, P, importance, n_values=rng),
            "probing": an.probe(model, task, fit, test).tolist()}


def layernorm_study(task, seed, steps=LAYERS, num_prompts=EVAL_PROMPTS, model=None):
    """The construction whose layer norm divides (attnlab.construction_layernorm), with `steps` gradient layers after
    its first, as a JSON-ready dict: "risk" rows {method, n, risk} of it and of every method of dividing_study on the
    same held-out prompts (each tuned per n on prompts of its own), and of the trained `model` if given ("trained");
    "paired" rows {a, b, mean_diff, ci} of it against gd, ridge and the trained model; and the "importance", "effect"
    and "pruning" of the model tuned for n = d - 1, measured as for a trained model (in float64: its anchors need
    the digits)."""
    errors, params = seed_errors(task, seed, steps, num_tune=min(2000, num_prompts), num_eval=num_prompts, model=model)
    n_values = list(underdetermined_range(task))
    risk = [{"method": method, "n": n, "risk": r} for method, e in errors.items()
            for n, r in zip(n_values, e.mean(0).tolist())]
    pairs = [{"a": "layernorm", "b": b, "mean_diff": m, "ci": [low, high]}
             for b in ("gd", "ridge", "trained") if b in errors for m, low, high in [paired(errors, "layernorm", b)]]
    built = construction_layernorm.build(task.d, max_len=task.seq_len, **params["layernorm"][-1])
    P, rng = prompts(task, seed, "measure", num_prompts).to(dtype=torch.float64), claim_range(task)
    importance, effect = an.head_importance(built, task, P, rng), an.head_effect(built, task, P, rng)
    return {"steps": steps, "risk": risk, "paired": pairs, "params": params["layernorm"],
            "importance": _cells(importance, "importance"), "effect": _cells(effect, "effect"),
            "pruning": an.pruning_risks(built, task, P, importance, n_values=rng)}


def print_layernorm(c):
    """Print what layernorm_study measured, as the reproduction reports it."""
    print(f"\nthe construction that divides (layer norm; {c['steps']} gradient layers), mean risk over n = s..d-1:")
    by_method = {}
    for r in c["risk"]:
        by_method.setdefault(r["method"], []).append(r["risk"])
    print("  " + ", ".join(f"{method} {sum(v) / len(v):.3f}" for method, v in by_method.items()))
    for r in c["paired"]:
        print(f"  {r['a']} minus {r['b']}: {r['mean_diff']:+.4f} (95% interval {r['ci'][0]:+.4f} to {r['ci'][1]:+.4f})")
    print(f"  pruning: {', '.join(f'{k} {v:.3f}' for k, v in c['pruning'].items())}")


def print_construction(c):
    """Print what construction_study measured, as the reproduction reports it."""
    print(f"\nthe construction ({c['steps']} gradient layers): largest distance from the plain algorithm in float64: "
          f"{c['max_abs_diff']:.1e}")
    by_method = {}
    for r in c["risk"]:
        by_method.setdefault(r["method"], {})[r["n"]] = r["risk"]
    for method, by_n in by_method.items():
        print(f"  {method:15s} " + " ".join(f"n={n}: {r:.3f}" for n, r in by_n.items()))
    design = c["design"]
    print(f"  built with beta = {design['beta']}, lr = {design['lr']}: mean risk {design['mean_risk']:.3f}; "
          f"pruning {', '.join(f'{k} {v:.3f}' for k, v in c['pruning'].items())}")
