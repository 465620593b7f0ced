"""Part II from scratch: train, measure, check paper B's claims, print and plot.

    python -m attnlab.reproduce heads --seeds 0,1,2 --out results.json

For each seed, `reproduce` trains the default model and the softmax contrast of the same recipe, measures them
(`run.analyse`), tunes the baselines on their own prompts, and writes one JSON of flat rows (risk, importance,
pruning, probing, probing_reference, seconds), plus the hand-built construction measured once ("construction").
`per_seed` reads those rows back into one `SeedResult` per seed, the form every check, table and figure uses.
"""
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from .. import analysis as an
from .. import plots
from ..train import pick_device
from .config import (CONTRAST, GD_STEPS, HEADS, LAYERS, MODEL, POSITIONS, TASK, TRAINING, claim_range,
                     underdetermined_range)
from .construction_study import construction_study, print_construction
from .run import analyse, baseline_curves, layer1_reweighting, make_task, probing_reference, train_run


@dataclass
class Claim:
    """One checked claim: whether it holds, the number it rests on, and that number's bad direction. `key` names
    the claim in code and tests (see CLAIM_KEYS); `text` says it in words and may change with the task."""
    key: str
    text: str
    holds: bool
    value: float
    worse: str  # "higher" or "lower": which way the value moves when the claim fails
    detail: str


# Every claim the course checks, in the order of the README's table.
CLAIM_KEYS = ("beats_baselines", "below_ridge_at_d", "preprocess_gd_beats_gd", "layer1_spread", "layer1_needs_its_heads",
              "later_layers_concentrated", "pruning_keeps_risk", "probe_falls_by_layer", "softmax_is_worse")


def mechanism_claims(shares, pruning, probes):
    """Paper B's claims about how one model uses its heads and layers, as a list of Claim.

    shares: (layers, heads) each head's share of its layer's importance (analysis.importance_shares); pruning:
    {variant: mean risk} with at least full, pruned and first_layer_one_head; probes: the probe's risk entering
    each layer and at the output (analysis.probe).

    Notebooks: II.3
    """
    tops = torch.as_tensor(shares).max(dim=1).values.tolist()
    full = pruning["full"]
    claims = []
    if len(tops) >= 2:
        claims.append(Claim("layer1_spread", "layer 1: no head carries more than half of the layer's importance", tops[0] <= 0.5,
                            tops[0], "higher", f"top share {tops[0]:.2f}"))
        claims.append(Claim("later_layers_concentrated", "each later layer: the top head carries at least 60%", min(tops[1:]) >= 0.6,
                            min(tops[1:]), "lower", " ".join(f"{t:.2f}" for t in tops[1:])))
    claims.append(Claim("pruning_keeps_risk", "pruned within 10% of the full model", pruning["pruned"] <= 1.1 * full,
                        pruning["pruned"] / full, "higher", f"{pruning['pruned']:.3f} vs {full:.3f}"))
    claims.append(Claim("layer1_needs_its_heads", "one head in layer 1 raises the risk by 30% or more",
                        pruning["first_layer_one_head"] >= 1.3 * full, pruning["first_layer_one_head"] / full,
                        "lower", f"{pruning['first_layer_one_head']:.3f} vs {full:.3f}"))
    ratios = [b / a for a, b in zip(probes, probes[1:])]
    claims.append(Claim("probe_falls_by_layer", "the probe's risk falls from each layer to the next", max(ratios) < 1, max(ratios), "higher",
                        " ".join(f"{p:.3f}" for p in probes)))
    return claims


def risk_claims(model, baselines, task):
    """The risk claims for one model: model and baselines are risk curves over n = 0..task.n."""
    rng, below_d = claim_range(task), underdetermined_range(task)
    mean = lambda curve, ns: sum(curve[n] for n in ns) / len(ns)  # noqa: E731
    m, r, g, l_ = (mean(c, rng) for c in (model, baselines["ridge"], baselines["gd"], baselines["lasso"]))
    best = min(r, g, l_)
    p, g2, r2 = (mean(baselines[k], below_d) for k in ("preprocess_gd", "gd", "ridge"))
    d = task.d
    return [
        Claim("beats_baselines", f"the transformer's mean risk over n = {task.s}..{d} is below tuned ridge, gd and Lasso", m < best,
              m / best, "higher", f"{m:.3f} vs ridge {r:.3f}, gd {g:.3f}, lasso {l_:.3f}"),
        Claim("below_ridge_at_d", f"the transformer is below ridge at n = d = {d}", model[d] < baselines["ridge"][d],
              model[d] / baselines["ridge"][d], "higher", f"{model[d]:.3f} vs {baselines['ridge'][d]:.3f}"),
        Claim("preprocess_gd_beats_gd", f"preprocess_gd (k = {GD_STEPS}) is below gd and ridge averaged over n = {task.s}..{d - 1}",
              p < min(g2, r2), p / min(g2, r2), "higher", f"{p:.3f} vs gd {g2:.3f}, ridge {r2:.3f}"),
    ]


@dataclass
class SeedResult:
    """One seed of a reproduction, read back from the JSON rows."""
    seed: int
    risk: dict = field(default_factory=dict)  # {label: [risk after 0..n examples]}: models and baselines
    importance: dict = field(default_factory=dict)  # {model label: (layers, heads) grid}
    pruning: dict = field(default_factory=dict)  # {variant: mean risk}
    probing: dict = field(default_factory=dict)  # {model label: [risk entering each layer]}
    reweighting: dict = field(default_factory=dict)  # {model label: {candidate: R^2}}
    reference: dict = field(default_factory=dict)  # {optimizer: {steps: risk at n = d}} beside the probe


def model_label(attention, layers, heads):
    return f"{attention} L={layers} H={heads}"


DEFAULT_LABEL = model_label(MODEL["attention"], LAYERS, HEADS)


def per_seed(results):
    """{seed: SeedResult} from the JSON rows of `reproduce`."""
    seeds = {}

    def at(seed):
        return seeds.setdefault(seed, SeedResult(seed))

    for r in results["risk"]:
        label = r["method"] if r["method"] != "transformer" else model_label(r["attention"], r["layers"], r["heads"])
        curve = at(r["seed"]).risk.setdefault(label, [])
        curve.extend([None] * (r["n"] + 1 - len(curve)))
        curve[r["n"]] = r["risk"]
    for r in results["importance"]:
        label = model_label(r.get("attention", MODEL["attention"]), r["layers"], r["heads"])
        grid = at(r["seed"]).importance.setdefault(label, [[0.0] * r["heads"] for _ in range(r["layers"])])
        grid[r["layer"]][r["head"]] = r["importance"]
    for r in results["pruning"]:
        at(r["seed"]).pruning[r["variant"]] = r["risk"]
    for r in sorted(results["probing"], key=lambda r: r["layer"]):
        at(r["seed"]).probing.setdefault(model_label(r["attention"], r["layers"], r["heads"]), []).append(r["risk"])
    for r in results.get("reweighting", []):
        at(r["seed"]).reweighting.setdefault(r["model"], {})[r["candidate"]] = r["r2"]
    for r in results.get("probing_reference", []):
        at(r["seed"]).reference.setdefault(r["method"], {})[r["steps"]] = r["risk"]
    return dict(sorted(seeds.items()))


def check_bar(results, task=None):
    """The course's claims on every seed of a reproduction: {seed: [Claim]}."""
    task = make_task() if task is None else task
    checks = {}
    for seed, res in per_seed(results).items():
        claims = risk_claims(res.risk[DEFAULT_LABEL], res.risk, task)
        shares = an.importance_shares(torch.tensor(res.importance[DEFAULT_LABEL]))
        claims += mechanism_claims(shares, res.pruning, res.probing[DEFAULT_LABEL])
        contrast = res.risk.get(model_label(CONTRAST["attention"], LAYERS, HEADS))
        if contrast is not None:
            rng = claim_range(task)
            lin, soft = (sum(c[n] for n in rng) / len(rng) for c in (res.risk[DEFAULT_LABEL], contrast))
            claims.append(Claim("softmax_is_worse", "the softmax contrast is worse than the linear default (mean risk)", soft > lin,
                                soft / lin, "lower", f"{soft:.3f} vs {lin:.3f}"))
        checks[seed] = claims
    return checks


def summarize(checks):
    """[(claim key, claim text, holds in how many seeds, of how many, median value, worst value)] over the seeds of
    check_bar, in the order of CLAIM_KEYS."""
    rows = {}
    for claims in checks.values():
        for c in claims:
            rows.setdefault(c.key, []).append(c)
    summary = []
    for key in sorted(rows, key=CLAIM_KEYS.index):
        claims = rows[key]
        values = [c.value for c in claims]
        worst = max(values) if claims[0].worse == "higher" else min(values)
        summary.append((key, claims[0].text, sum(c.holds for c in claims), len(claims), statistics.median(values), worst))
    return summary


def print_tables(results, task=None):
    task = make_task() if task is None else task
    seeds = per_seed(results)
    print("\nexcess risk against n (mean over seeds)")
    labels = list(dict.fromkeys(label for res in seeds.values() for label in res.risk))
    print(f"{'method':24s}" + "".join(f"{n:>7d}" for n in range(task.n + 1)))
    for label in labels:
        curves = [res.risk[label] for res in seeds.values() if label in res.risk]
        print(f"{label:24s}" + "".join(f"{statistics.mean(c[n] for c in curves):7.3f}" for n in range(task.n + 1)))
    print("\nhead importance (rise in mean risk when masked), by seed; rows are layers")
    for seed, res in seeds.items():
        for label, grid in res.importance.items():
            print(f"seed {seed}, {label}: " + " | ".join(" ".join(f"{v:.3f}" for v in row) for row in grid))
    print("\npruning (mean risk over n = s..d)")
    for seed, res in seeds.items():
        print(f"  seed {seed}: " + ", ".join(f"{v} {r:.4f}" for v, r in res.pruning.items()))
    print("\nprobing (risk of a linear read-out at the query, entering each layer; last = output)")
    for seed, res in seeds.items():
        print(f"  seed {seed}: " + "; ".join(f"{label} " + " ".join(f"{p:.3f}" for p in probes)
                                         for label, probes in res.probing.items()))
    print("\nlayer 1's output at the query against candidates (R^2 of a linear read-out)")
    for seed, res in seeds.items():
        print(f"  seed {seed}: " + "; ".join(f"{label}: " + ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
                                         for label, scores in res.reweighting.items()))
    checks = check_bar(results, task)
    print("\nthe course's claims, seed by seed")
    for seed, claims in checks.items():
        for c in claims:
            print(f"  seed {seed} [{'holds' if c.holds else 'FAILS'}] {c.text}: {c.detail}")
    print("\nthe claims over all seeds (value: the ratio or share each claim rests on)")
    for _, text, held, count, median, worst in summarize(checks):
        print(f"  holds in {held}/{count}: {text} (median {median:.3f}, worst seed {worst:.3f})")
    if "construction" in results:
        print_construction(results["construction"])


def _save(fig, path):
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot(results, out_dir):
    """Save the reproduction's figures into out_dir; returns their paths."""
    out_dir, seeds = Path(out_dir), per_seed(results)
    paths = []
    labels = list(dict.fromkeys(label for res in seeds.values() for label in res.risk))
    curves = {}
    for label in labels:
        runs = [res.risk[label] for res in seeds.values() if label in res.risk]
        curves[label] = (range(len(runs[0])), [statistics.mean(r[n] for r in runs) for n in range(len(runs[0]))])
    models = [label for label in labels if " L=" in label]
    fig = plots.risk_vs_n(curves, title="Sparse regression in context: transformers and baselines (mean over seeds)",
                          emphasize=models)
    paths.append(_save(fig, out_dir / "heads_risk_vs_n.png"))

    shares = {f"seed {seed}": an.importance_shares(torch.tensor(res.importance[DEFAULT_LABEL]))
              for seed, res in seeds.items()}
    fig = plots.importance_grids(shares, "Head importance of the default model: each head's share of its layer's rise "
                                         "in risk")
    paths.append(_save(fig, out_dir / "heads_importance.png"))

    fig = plots.pruning_bars({f"seed {seed}": res.pruning for seed, res in seeds.items()})
    paths.append(_save(fig, out_dir / "heads_pruning.png"))

    references = {}
    for method in ("gd", "preprocess_gd"):
        by_k = {}
        for r in results.get("probing_reference", []):
            if r["method"] == method:
                by_k.setdefault(r["steps"], []).append(r["risk"])
        if by_k:
            references[f"{method} (mean over seeds)"] = (sorted(by_k), [statistics.mean(by_k[k]) for k in sorted(by_k)])
    probes = {f"seed {seed}": res.probing[DEFAULT_LABEL] for seed, res in seeds.items()}
    fig = plots.probe_beside_optimizers(probes, references, n=make_task().n)
    paths.append(_save(fig, out_dir / "heads_probing.png"))
    return paths


def _model_rows(run, analysis, seconds):
    """The JSON rows of one trained model."""
    key = {"attention": run.attention, "layers": run.layers, "heads": run.heads, "seed": run.seed}
    rows = {"risk": [{"method": "transformer", **key, "n": n, "risk": r} for n, r in enumerate(analysis.risk_by_n)],
            "probing": [{**key, "layer": layer, "risk": r} for layer, r in enumerate(analysis.probing)],
            "seconds": [{**key, "seconds": seconds}]}
    if analysis.importance is not None:
        rows["importance"] = [{**key, "layer": layer, "head": head, "importance": value}
                              for layer, row in enumerate(analysis.importance) for head, value in enumerate(row)]
    return rows


def reproduce(seeds, out_dir, layers=LAYERS, heads=HEADS):
    """Train, measure and plot for each seed; returns the JSON-ready results (see the module's doc)."""
    if not seeds:
        raise ValueError("give at least one seed")
    pick_device()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)  # before any training: a bad path fails now, not in an hour
    task = make_task()
    results = {"kind": "heads", "config": {"task": TASK, "d": task.d, "s": task.s, "layers": layers, "heads": heads,
                                           "model": MODEL, "contrast": CONTRAST, "training": TRAINING,
                                           "positions": POSITIONS, "gd_steps": GD_STEPS},
               "risk": [], "importance": [], "pruning": [], "probing": [], "probing_reference": [], "reweighting": [],
               "seconds": []}
    for seed in seeds:
        for contrast in (False, True):
            start = time.perf_counter()
            run = train_run(layers, heads, seed, contrast=contrast, task=make_task())
            seconds = time.perf_counter() - start
            print(f"trained {run.label} seed={seed} in {seconds:.0f} s; final test risk {run.history.final:.3f}",
                  flush=True)
            analysis = analyse(run.model, task, seed)
            for key, rows in _model_rows(run, analysis, seconds).items():
                results[key] += rows
            results["reweighting"] += [{"seed": seed, "model": run.label, "candidate": k, "r2": v}
                                       for k, v in layer1_reweighting(run.model, task, seed).items()]
            if not contrast:
                results["pruning"] += [{"layers": layers, "heads": heads, "seed": seed, "variant": v, "risk": r}
                                       for v, r in analysis.pruning.items()]
        for method, curve in baseline_curves(task, seed).items():
            results["risk"] += [{"method": method, "layers": None, "heads": None, "seed": seed, "n": n, "risk": r}
                                for n, r in enumerate(curve)]
        results["probing_reference"] += [{"seed": seed, **row} for row in probing_reference(task, seed, layers)]
    results["construction"] = construction_study(task, seeds[0], steps=layers - 1)
    print_tables(results)
    for path in plot(results, out_dir):
        print(f"saved {path}")
    return results
