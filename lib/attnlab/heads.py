"""Part II end to end: train transformers on in-context sparse linear regression and ask how they use their heads.

    python -m attnlab.reproduce heads --seeds 0,1,2 --out results.json

For each seed this trains the default model (DEFAULT: LAYERS layers, HEADS heads) and a single-head model of
the same depth, tunes the baselines of `attnlab.baselines` on held-out prompts, and measures: risk against n
for every method, head importance by masking, pruning, and layer-wise probing beside k-step optimizers.
`check_bar` states the course's claims and whether each holds.

What the default gave (3 seeds, about 26 minutes in all on the shared 2-core CPU, one thread; about 215 s
per 4-head model and 180 s per 1-head model, 10000 steps):
- risk: the 4-head model learns in context (risk 0.23 at n = 8, 0.05 at n = 16) but stays above tuned
  ridge (0.11 at n = 8) and, averaged over n = 2..8, above ridge and 10-step gradient descent (0.45-0.47
  against 0.39-0.41 and 0.42-0.44). It does not exploit sparsity yet at this scale;
- heads: layer 1 has one dominant head (85-90% of its importance): with separate x and y tokens it pairs
  each y with its x. Layer 2 spreads its importance over 2-3 heads (top share 0.41-0.56), the role the paper
  gives layer 1 (preprocessing); layer 3's top head carries 0.50-0.63. So the paper's pattern appears one
  layer later, and not cleanly: pruning later layers to one head triples the risk;
- probing: the read-out at the query does not improve through layer 1 (the pairing happens at the y tokens),
  then falls sharply (about 0.96 -> 0.22 -> 0.05 at n = 16), below k-step gradient descent by the output;
- preprocess-then-optimize (k = 10) beats 10-step gradient descent and ridge averaged over n = 2..7 in every
  seed; at single n its edge is within noise at n = 2 and n = 7.
Scale, one seed each: 25000 steps (594 s) only moved the 3-layer model from 0.463 to 0.454 (mean risk over
n = 2..8; ridge 0.40); 4 layers, 10000 steps (290 s) reached 0.431 (below 10-step gd, 0.433; 0.158 at n = 8
against ridge's 0.120), with the same layer-1 pairing head (85%) and a last layer led by one head (75%).
Without the curriculum and the sinusoidal start, the separate-token model sat on its plateau for 3000 to more
than 9000 steps.
"""
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from . import analysis as an
from . import baselines as bl
from .model import Config, Transformer
from .tasks.regression import SparseRegression, sample_prompts
from .train import pick_device, train

# The default configuration (see the module doc of attnlab.tasks.regression for the task and layout).
TASK = dict(d=8, s=2, n=16, sigma=0.1, layout="separate", train_on="noisy", curriculum_steps=3000)
LAYERS, HEADS = 3, 4
MODEL = dict(width=64, mlp=False, layer_norm=True)
TRAINING = dict(steps=10000, batch_size=64, lr=3e-3, weight_decay=0.0, eval_every=500)
# How the positional table starts: "sinusoidal" (then learned) or "learned" (PyTorch's N(0, 1)). With separate
# x and y tokens the first layer must learn to pair y_i with x_i, by position; from sinusoids (and with the
# curriculum) that happened within a few hundred steps, from the N(0, 1) table it took 3000 to 9000+ steps.
POSITIONS = "sinusoidal"
GD_STEPS = 10  # k for the gd and preprocess_gd baselines
EVAL_PROMPTS = 4000
METHODS = ("ridge", "gd", "lasso", "oracle", "preprocess_gd")
VARIANTS = ("full", "pruned", "single_head_model", "first_layer_one_head")


def make_task(**overrides):
    return SparseRegression(**{**TASK, **overrides})


def make_model(task, layers=LAYERS, heads=HEADS, seed=0, positions=POSITIONS, **overrides):
    """A fresh transformer for the task, initialised from `seed`."""
    if positions not in ("learned", "sinusoidal"):
        raise ValueError(f"positions must be 'learned' or 'sinusoidal', got {positions!r}")
    torch.manual_seed(seed)
    cfg = Config(max_len=task.seq_len, output_dim=1, input_dim=task.input_dim, depth=layers, heads=heads,
                 **{**MODEL, **overrides})
    model = Transformer(cfg)
    if positions == "sinusoidal":
        T, C = model.pos.weight.shape
        t = torch.arange(T, dtype=torch.float32)[:, None]
        freq = torch.exp(-math.log(100.0) * torch.arange(0, C, 2, dtype=torch.float32) / C)
        table = torch.zeros(T, C)
        table[:, 0::2], table[:, 1::2] = torch.sin(t * freq), torch.cos(t * freq)
        with torch.no_grad():
            model.pos.weight.copy_(table)
    return model


def train_heads_model(layers=LAYERS, heads=HEADS, seed=0, progress=True, task=None, **overrides):
    """Train one model from scratch on the default task; returns (model, history, task).

    overrides: any key of TRAINING (steps, lr, ...), or of MODEL (width, mlp, ...), or positions.
    """
    if layers < 1 or heads < 1:
        raise ValueError(f"layers and heads must be at least 1, got {layers} and {heads}")
    task = make_task() if task is None else task
    train_kw = {k: overrides.pop(k) for k in list(overrides) if k in TRAINING}
    model = make_model(task, layers, heads, seed, **overrides)
    history = train(model, task, seed=seed, progress=progress, desc=f"L={layers} H={heads} seed={seed}",
                    **{**TRAINING, **train_kw})
    return model.cpu().eval(), history, task


def _prompts(task, seed, which, num_prompts=None):
    """Evaluation prompts, disjoint from training (train uses the generator seeded with `seed`)."""
    return task.prompts(num_prompts or EVAL_PROMPTS, torch.Generator().manual_seed(1_000_000 + 1000 * seed + which))


def analyse(model, task, seed, n_values=None, num_prompts=None):
    """Everything the course measures on one trained model, as plain Python numbers."""
    P, fit, test = (_prompts(task, seed, i, num_prompts) for i in range(3))
    result = {"risk_by_n": an.risk_by_n(model, task, P).tolist()}
    if model.cfg.heads > 1:
        importance = an.head_importance(model, task, P, n_values)
        result["importance"] = importance.tolist()
        result["shares"] = an.importance_shares(importance).tolist()
        result["pruning"] = an.pruning_risks(model, task, P, importance, n_values=n_values)
    result["mean_risk"] = an.mean_risk(model, task, P, None, n_values)
    result["probing"] = an.probe(model, task, fit, test).tolist()
    return result


def baseline_curves(task, seed, steps=GD_STEPS):
    return bl.risk_curves(d=task.d, s=task.s, sigma=task.sigma, n_values=range(task.n + 1), methods=METHODS,
                          steps=steps, num_tune=2000, num_eval=EVAL_PROMPTS, seed=1000 * seed + 7)


def probing_reference(task, seed, max_steps):
    """Risk at n = task.n of k = 0..max_steps steps of gd and preprocess_gd (tuned per k): the optimizer the
    layers might be imitating."""
    g = torch.Generator().manual_seed(2_000_000 + seed)
    tune_p = sample_prompts(2000, task.d, task.s, task.n, task.sigma, g, torch.float64)
    eval_p = sample_prompts(EVAL_PROMPTS, task.d, task.s, task.n, task.sigma, g, torch.float64)
    rows = []
    for method in ("gd", "preprocess_gd"):
        for k in range(max_steps + 1):
            params, _ = bl.tune(method, tune_p, steps=k)
            rows.append({"method": method, "steps": k, "risk": bl.risk(method, eval_p, **params)})
    return rows


def _mean(xs):
    return sum(xs) / len(xs)


def check_bar(results, task=None):
    """The course's claims, checked on reproduction results: a list of (claim, holds, detail)."""
    task = make_task() if task is None else task
    rng = list(range(task.s, task.d + 1))
    below_d = list(range(task.s, task.d))
    risk = {}
    for r in results["risk"]:
        risk.setdefault((r["method"], r["layers"], r["heads"], r["seed"]), {})[r["n"]] = r["risk"]
    seeds = sorted({r["seed"] for r in results["risk"]})
    checks = []
    for seed in seeds:
        model = risk[("transformer", LAYERS, HEADS, seed)]
        ridge, gd, pgd = (risk[(m, None, None, seed)] for m in ("ridge", "gd", "preprocess_gd"))
        m_avg, r_avg, g_avg = (_mean([c[n] for n in rng]) for c in (model, ridge, gd))
        checks.append((f"seed {seed}: transformer mean risk over n={task.s}..{task.d} below ridge and gd",
                       m_avg < r_avg and m_avg < g_avg, f"{m_avg:.3f} vs ridge {r_avg:.3f}, gd {g_avg:.3f}"))
        checks.append((f"seed {seed}: transformer below ridge at n=d={task.d}", model[task.d] < ridge[task.d],
                       f"{model[task.d]:.3f} vs {ridge[task.d]:.3f}"))
        p_avg, g_avg2, r_avg2 = (_mean([c[n] for n in below_d]) for c in (pgd, gd, ridge))
        checks.append((f"seed {seed}: preprocess_gd below gd and ridge averaged over n={task.s}..{task.d - 1}",
                       p_avg < g_avg2 and p_avg < r_avg2, f"{p_avg:.3f} vs gd {g_avg2:.3f}, ridge {r_avg2:.3f}"))
        ok = all(pgd[n] < gd[n] and pgd[n] < ridge[n] for n in below_d)
        checks.append((f"seed {seed}: preprocess_gd below gd and ridge at every n in {task.s}..{task.d - 1} "
                       "(preprocess/gd/ridge)", ok,
                       " ".join(f"n={n}: {pgd[n]:.3f}/{gd[n]:.3f}/{ridge[n]:.3f}" for n in below_d)))
        shares = {}
        for r in results["importance"]:
            if r["seed"] == seed and r["layers"] == LAYERS and r["heads"] == HEADS:
                shares.setdefault(r["layer"], []).append(max(r["importance"], 0.0))
        if LAYERS >= 2 and shares:
            top = {layer: max(v) / sum(v) if sum(v) > 0 else float("nan") for layer, v in shares.items()}
            checks.append((f"seed {seed}: layer 1 has no head above 50% of its importance", top[0] <= 0.5,
                           f"top share {top[0]:.2f}"))
            later = [top[layer] for layer in sorted(top) if layer > 0]
            checks.append((f"seed {seed}: each later layer's top head carries >= 60%", all(t >= 0.6 for t in later),
                           " ".join(f"{t:.2f}" for t in later)))
        prune = {r["variant"]: r["risk"] for r in results["pruning"] if r["seed"] == seed}
        if "pruned" in prune:
            checks.append((f"seed {seed}: pruned within 10% of full", prune["pruned"] <= 1.1 * prune["full"],
                           f"{prune['pruned']:.3f} vs {prune['full']:.3f}"))
            checks.append((f"seed {seed}: one head in layer 1 raises risk >= 30%",
                           prune["first_layer_one_head"] >= 1.3 * prune["full"],
                           f"{prune['first_layer_one_head']:.3f} vs {prune['full']:.3f}"))
        probes = [r["risk"] for r in sorted(results["probing"], key=lambda r: r["layer"])
                  if r["seed"] == seed and r["layers"] == LAYERS and r["heads"] == HEADS]
        checks.append((f"seed {seed}: probing risk falls layer to layer",
                       all(b < a for a, b in zip(probes, probes[1:])), " ".join(f"{p:.3f}" for p in probes)))
    return checks


def _save(fig, path):
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot(results, out_dir):
    """Save the figures of the reproduction into out_dir; returns their paths."""

    out_dir = Path(out_dir)
    paths = []
    curves = {}
    for r in results["risk"]:
        label = r["method"] if r["method"] != "transformer" else f"transformer L={r['layers']} H={r['heads']}"
        curves.setdefault(label, {}).setdefault(r["n"], []).append(r["risk"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, by_n in curves.items():
        ns = sorted(by_n)
        ax.plot(ns, [_mean(by_n[n]) for n in ns], marker="o" if "transformer" in label else ".",
                lw=2.5 if "transformer" in label else 1.2, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("number of in-context examples n")
    ax.set_ylabel("excess risk (mean over seeds)")
    ax.set_title("In-context sparse linear regression: transformers and baselines")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(_save(fig, out_dir / "heads_risk_vs_n.png"))

    seeds = sorted({r["seed"] for r in results["importance"]})
    if seeds:
        fig, axes = plt.subplots(1, len(seeds), figsize=(3.2 * len(seeds), 3.2), squeeze=False)
        for ax, seed in zip(axes[0], seeds):
            rows = [r for r in results["importance"] if r["seed"] == seed]
            L, H = max(r["layer"] for r in rows) + 1, max(r["head"] for r in rows) + 1
            grid = torch.zeros(L, H)
            for r in rows:
                grid[r["layer"], r["head"]] = r["importance"]
            shares = an.importance_shares(grid)
            im = ax.imshow(shares.numpy(), vmin=0, vmax=1, cmap="viridis")
            for layer in range(L):
                for head in range(H):
                    ax.text(head, layer, f"{shares[layer, head]:.2f}", ha="center", va="center", color="w", fontsize=8)
            ax.set_xticks(range(H), [str(h) for h in range(H)])
            ax.set_yticks(range(L), [str(layer + 1) for layer in range(L)])
            ax.set_xlabel("head")
            ax.set_ylabel("layer")
            ax.set_title(f"seed {seed}", fontsize=9)
        fig.suptitle("Head importance: each head's share of its layer's rise in risk when masked", fontsize=10)
        fig.colorbar(im, ax=axes[0].tolist(), label="share of the layer's importance")
        paths.append(_save(fig, out_dir / "heads_importance.png"))

    if results["pruning"]:
        fig, ax = plt.subplots(figsize=(6, 4))
        seeds = sorted({r["seed"] for r in results["pruning"]})
        width = 0.8 / len(seeds)
        for i, seed in enumerate(seeds):
            vals = {r["variant"]: r["risk"] for r in results["pruning"] if r["seed"] == seed}
            ax.bar([j + i * width for j in range(len(VARIANTS))], [vals.get(v, float("nan")) for v in VARIANTS],
                   width=width, label=f"seed {seed}")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(VARIANTS))], VARIANTS, fontsize=8)
        ax.set_ylabel("excess risk (mean over n)")
        ax.set_title("Pruning: keep all of layer 1 and the top head of each later layer")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(_save(fig, out_dir / "heads_pruning.png"))

    if results["probing"]:
        fig, ax = plt.subplots(figsize=(6, 4))
        for seed in sorted({r["seed"] for r in results["probing"]}):
            rows = sorted((r for r in results["probing"] if r["seed"] == seed and r["heads"] == HEADS),
                          key=lambda r: r["layer"])
            ax.plot([r["layer"] for r in rows], [r["risk"] for r in rows], marker="o", label=f"probe, seed {seed}")
        for method, style in (("gd", "--"), ("preprocess_gd", ":")):
            by_k = {}
            for r in results.get("probing_reference", []):
                if r["method"] == method:
                    by_k.setdefault(r["steps"], []).append(r["risk"])
            if by_k:
                ks = sorted(by_k)
                ax.plot(ks, [_mean(by_k[k]) for k in ks], style, color="k" if method == "gd" else "C3",
                        label=f"{method}: k steps (x axis = k), mean over seeds")
        ax.set_xlabel("layer l (residual stream entering layer l+1; last = output) / optimizer steps k")
        ax.set_ylabel(f"excess risk at n = {make_task().n}")
        ax.set_title("Layer-wise probing beside k steps of an optimizer")
        ax.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        paths.append(_save(fig, out_dir / "heads_probing.png"))
    return paths


def reproduce(seeds, out_dir, layers=LAYERS, heads=HEADS):
    """Train, measure and plot for each seed; returns the JSON-ready results (see the module doc)."""
    if not seeds:
        raise ValueError("give at least one seed")
    pick_device()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task = make_task()
    results = {"kind": "heads", "config": {"task": TASK, "layers": layers, "heads": heads, "model": MODEL,
                                           "training": TRAINING, "positions": POSITIONS, "gd_steps": GD_STEPS},
               "risk": [], "importance": [], "pruning": [], "probing": [], "probing_reference": [], "seconds": []}
    for seed in seeds:
        for L, H in ((layers, heads), (layers, 1)):
            start = time.perf_counter()
            model, history, _ = train_heads_model(L, H, seed, task=make_task())  # a fresh task: curricula count batches
            seconds = time.perf_counter() - start
            results["seconds"].append({"layers": L, "heads": H, "seed": seed, "seconds": seconds})
            print(f"trained L={L} H={H} seed={seed} in {seconds:.0f} s; final test risk {history.final:.3f}", flush=True)
            res = analyse(model, task, seed)
            for n, r in enumerate(res["risk_by_n"]):
                results["risk"].append({"method": "transformer", "layers": L, "heads": H, "seed": seed, "n": n, "risk": r})
            for layer, r in enumerate(res["probing"]):
                results["probing"].append({"layers": L, "heads": H, "seed": seed, "layer": layer, "risk": r})
            if H == 1:
                results["pruning"].append({"layers": layers, "heads": heads, "seed": seed, "variant": "single_head_model",
                                           "risk": res["mean_risk"]})
                continue
            for layer, row in enumerate(res["importance"]):
                for head, value in enumerate(row):
                    results["importance"].append({"layers": L, "heads": H, "seed": seed, "layer": layer, "head": head,
                                                  "importance": value})
            for variant, r in res["pruning"].items():
                results["pruning"].append({"layers": L, "heads": H, "seed": seed, "variant": variant, "risk": r})
        curves = baseline_curves(task, seed)
        for method, curve in curves.items():
            for n, r in zip(curve["n"], curve["risk"]):
                results["risk"].append({"method": method, "layers": None, "heads": None, "seed": seed, "n": n, "risk": r})
        for row in probing_reference(task, seed, layers):
            results["probing_reference"].append({"seed": seed, **row})
    print_tables(results)
    for path in plot(results, out_dir):
        print(f"saved {path}")
    return results


def print_tables(results, task=None):
    task = make_task() if task is None else task
    print("\nexcess risk against n (mean over seeds)")
    table = {}
    for r in results["risk"]:
        key = r["method"] if r["method"] != "transformer" else f"transformer L={r['layers']} H={r['heads']}"
        table.setdefault(key, {}).setdefault(r["n"], []).append(r["risk"])
    ns = sorted({r["n"] for r in results["risk"]})
    print(f"{'method':22s}" + "".join(f"{n:>7d}" for n in ns))
    for key, by_n in table.items():
        print(f"{key:22s}" + "".join(f"{_mean(by_n[n]):7.3f}" for n in ns))
    print("\nhead importance (rise in risk when masked), by seed; rows are layers")
    for seed in sorted({r["seed"] for r in results["importance"]}):
        rows = {}
        for r in results["importance"]:
            if r["seed"] == seed:
                rows.setdefault(r["layer"], []).append(r["importance"])
        print(f"seed {seed}: " + " | ".join(" ".join(f"{v:.3f}" for v in row) for _, row in sorted(rows.items())))
    print("\npruning (mean risk over n)")
    for r in results["pruning"]:
        print(f"  seed {r['seed']} {r['variant']:22s} {r['risk']:.4f}")
    print("\nprobing (risk of a linear read-out at the query, entering each layer; last = output)")
    for seed in sorted({r["seed"] for r in results["probing"]}):
        rows = sorted((r for r in results["probing"] if r["seed"] == seed and r["heads"] != 1), key=lambda r: r["layer"])
        print(f"  seed {seed}: " + " ".join(f"{r['risk']:.3f}" for r in rows))
    print("\nthe course's claims")
    for claim, holds, detail in check_bar(results, task):
        print(f"  [{'holds' if holds else 'FAILS'}] {claim}: {detail}")
