"""Part II's claims, tables and figures, from the JSON rows of a reproduction (heads.reproduction).

`per_seed` reads those rows back into one `SeedResult` per seed, the form every check, table and figure uses;
`check_bar` checks the course's claims on each seed, `summarize` counts them over the seeds.
"""
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from .. import analysis as an
from .. import plots
from .config import (ARCHITECTURES, CONTRAST, ENOUGH, GD_STEPS, HEADS, LAYERS, MODEL, NEEDED, claim_range,
                     underdetermined_range)
from .construction_study import print_construction, print_layernorm
from .contrast import architecture_label
from .run import make_task


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


# Every claim the course checks, in the order of the README's table. The last five need the layer contrast and the
# paired rows (heads.contrast, heads.paired_study): check_bar leaves them out for a reproduction without them.
CLAIM_KEYS = ("beats_baselines", "below_ridge_at_d", "preprocess_gd_beats_gd", "layer1_spread", "layer1_needs_its_heads",
              "later_layers_concentrated", "pruning_keeps_risk", "probe_falls_by_layer", "softmax_is_worse",
              "beats_baselines_paired", "layer1_matters_most_by_mean_ablation", "trained_one_head_later_within_10pct",
              "trained_one_head_in_layer1_costs_30pct", "fine_tuned_pruning_keeps_risk")


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
    claims.append(Claim("pruning_keeps_risk", "pruned within 10% of the full model", pruning["pruned"] <= ENOUGH * full,
                        pruning["pruned"] / full, "higher", f"{pruning['pruned']:.3f} vs {full:.3f}"))
    claims.append(Claim("layer1_needs_its_heads", "one head in layer 1 raises the risk by 30% or more",
                        pruning["first_layer_one_head"] >= NEEDED * full, pruning["first_layer_one_head"] / full,
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


def contrast_claims(res, task):
    """The claims of the layer contrast and of the paired comparisons on one seed (a SeedResult), as a list of
    Claim; those whose rows the reproduction lacks are left out. Paper B's pattern, in models trained from scratch
    with one recipe, is the pair of trained_* claims: (H, 1, 1) within 10% of (H, H, H), (1, H, H) at least 30% above."""
    claims, claim_ns = [], tuple(claim_range(task))
    versus = {b: res.paired.get((DEFAULT_LABEL, b, claim_ns)) for b in ("ridge", "gd", "lasso")}
    if all(versus.values()):
        top = max(ci[1] for _, ci in versus.values())
        claims.append(Claim("beats_baselines_paired", f"on the same prompts, the transformer is below ridge, gd and "
                            f"Lasso over n = {task.s}..{task.d}, each 95% interval wholly below 0", top < 0, top,
                            "higher", ", ".join(f"{b} {m:+.3f} [{lo:+.3f}, {hi:+.3f}]" for b, (m, (lo, hi)) in versus.items())))
    if "mean" in res.ablation:
        layers = [sum(row) for row in res.ablation["mean"]]
        ratio = layers[0] / max(max(layers[1:]), 1e-12)
        claims.append(Claim("layer1_matters_most_by_mean_ablation", "by mean-ablation, layer 1's heads together matter "
                            "more than those of any later layer (summed rise in risk)", ratio > 1, ratio, "lower",
                            " ".join(f"{v:.3f}" for v in layers)))
    shapes = {architecture_label(a): res.architectures.get(tuple(a)) for a in ARCHITECTURES[:3]}
    full, later_one, first_one = shapes.values()
    if full is not None and later_one is not None:
        claims.append(Claim("trained_one_head_later_within_10pct", "trained from scratch with one head in each later "
                            "layer, within 10% of all heads everywhere", later_one <= ENOUGH * full, later_one / full,
                            "higher", f"{later_one:.3f} vs {full:.3f}"))
    if full is not None and first_one is not None:
        claims.append(Claim("trained_one_head_in_layer1_costs_30pct", "trained from scratch with one head in layer 1, "
                            "at least 30% above all heads everywhere", first_one >= NEEDED * full, first_one / full,
                            "lower", f"{first_one:.3f} vs {full:.3f}"))
    tuned = res.pruning.get(pruning_key("pruned", fine_tuned=True))
    if tuned is not None:
        claims.append(Claim("fine_tuned_pruning_keeps_risk", "pruned to the top head of each later layer and "
                            "fine-tuned, within 10% of the full model", tuned <= ENOUGH * res.pruning["full"],
                            tuned / res.pruning["full"], "higher", f"{tuned:.3f} vs {res.pruning['full']:.3f}"))
    return claims


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
    ablation: dict = field(default_factory=dict)  # {"zero" or "mean": (layers, heads) rise of the default model}
    architectures: dict = field(default_factory=dict)  # {heads per layer, a tuple: mean risk}
    paired: dict = field(default_factory=dict)  # {(a, b, ns, a tuple): (mean difference, (low, high))}


def pruning_key(variant, kind="zero", fine_tuned=False):
    """SeedResult.pruning's key of a variant: its name for zero-ablation without fine-tuning (what the claims about
    pruning read), with ":mean" for mean-ablation and ":fine_tuned" after fine-tuning."""
    return variant + (":mean" if kind == "mean" else "") + (":fine_tuned" if fine_tuned else "")


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
        key = pruning_key(r["variant"], r.get("kind", "zero"), r.get("fine_tune_steps", 0) > 0)
        at(r["seed"]).pruning[key] = r["risk"]
    for r in sorted(results["probing"], key=lambda r: r["layer"]):
        at(r["seed"]).probing.setdefault(model_label(r["attention"], r["layers"], r["heads"]), []).append(r["risk"])
    for r in results.get("reweighting", []):
        at(r["seed"]).reweighting.setdefault(r["model"], {})[r["candidate"]] = r["r2"]
    for r in results.get("probing_reference", []):
        at(r["seed"]).reference.setdefault(r["method"], {})[r["steps"]] = r["risk"]
    for r in results.get("ablation", []):
        at(r["seed"]).ablation.setdefault(r["kind"], {})[r["layer"], r["head"]] = r["rise"]
    for r in results.get("architectures", []):
        at(r["seed"]).architectures[tuple(r["heads_per_layer"])] = r["risk"]
    for r in results.get("paired", []):
        at(r["seed"]).paired[(r["a"], r["b"], tuple(r["ns"]))] = (r["mean_diff"], tuple(r["ci"]))
    for res in seeds.values():  # ablation: {(layer, head) from 1: rise} -> a (layers, heads) grid
        res.ablation = {kind: [[rise[cell] for cell in sorted(rise) if cell[0] == layer]
                               for layer in sorted({layer for layer, _ in rise})] for kind, rise in res.ablation.items()}
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
        checks[seed] = claims + contrast_claims(res, task)
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
    print("\nhead importance by layer: the rise in mean risk, summed over the layer's heads, zero | mean-ablation")
    for seed, res in seeds.items():
        print(f"  seed {seed}: " + " | ".join(" ".join(f"{sum(row):.3f}" for row in res.ablation[kind])
                                             for kind in ("zero", "mean") if kind in res.ablation))
    print("\nheads per layer, trained from scratch with one recipe (mean risk over n = s..d)")
    for seed, res in seeds.items():
        print(f"  seed {seed}: " + ", ".join(f"{architecture_label(a)} {r:.4f}" for a, r in res.architectures.items()))
    print("\npaired differences over n = s..d (a minus b on the same prompts, 95% interval over prompts)")
    claim_ns = tuple(claim_range(task))
    for seed, res in seeds.items():
        for (a, b, ns), (mean, (low, high)) in res.paired.items():
            if ns == claim_ns:
                print(f"  seed {seed}: {a} minus {b}: {mean:+.4f} [{low:+.4f}, {high:+.4f}]")
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
    if "construction_layernorm" in results:
        print_layernorm(results["construction_layernorm"])


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
