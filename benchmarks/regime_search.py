"""Where does paper B's head pattern live? Train the three architectures of the criterion in several regimes.

Paper B's pattern, as a test: a model trained with (H, 1, 1) heads per layer (every head in layer 1, one in each
later layer) is within 10% of (H, H, H), while (1, H, H) costs at least 30% more. The course's default regime
shows the reverse (II.3). This script trains, per regime and seed, the three models under the course's recipe
(config.TRAINING; fewer heads by removing heads from every pass, as contrast.train_with_heads_removed does) and
measures each on the same held-out prompts: mean excess risk over n = 1..n_max, and the paired difference
(1, H, H) minus (H, 1, 1) with its 95% interval.

    python benchmarks/regime_search.py run n12 --seeds 10-12      # appends rows to results/regime_search.jsonl
    python benchmarks/regime_search.py summary                      # the table of results/regime_search.md

Rows already in the file are skipped, so a run can be stopped and started again. One torch thread per process;
with a GPU (or ATTNLAB_DEVICE) the training runs there.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from attnlab import analysis as an
from attnlab.heads.config import ARCHITECTURES, ENOUGH, EVAL_PROMPTS, HEADS, LAYERS, NEEDED, TASK, TRAINING
from attnlab.heads.contrast import architecture_mask, train_with_heads_removed
from attnlab.heads.run import make_model, make_task, prompts
from attnlab.paired import paired_difference
from attnlab.reproduce import parse_seeds
from attnlab.train import pick_device

OUT = Path(__file__).resolve().parents[1] / "results" / "regime_search.jsonl"
FULL, PATTERN, REVERSE = ARCHITECTURES[:3]  # (H, H, H), (H, 1, 1), (1, H, H)
SOFTMAX_MLP = dict(attention="softmax", mlp=True)  # GPT-2-like blocks, as in paper B's experiments
SEPARATE = dict(layout="separate", queries=1, train_on="noisy")  # one token per x and per y (Garg et al.)

# name: (task overrides of config.TASK, model overrides of config.MODEL, make_model keywords, training overrides)
REGIMES = {
    "default": ({}, {}, {}, {}),
    "n12": ({"n": 12}, {}, {}, {}),  # n = 3d examples: where paper B compares with the Lasso
    "d8n16": ({"d": 8, "n": 16}, {}, {}, {}),  # larger d, s = 1, n = 2d
    "d16n32": ({"d": 16, "n": 32}, {}, {}, {}),
    "softmax_mlp": ({}, SOFTMAX_MLP, {}, {}),
    "d8n16_softmax_mlp": ({"d": 8, "n": 16}, SOFTMAX_MLP, {}, {}),
    "d16n32_softmax_mlp": ({"d": 16, "n": 32}, SOFTMAX_MLP, {}, {}),
    # Separate tokens need causal attention (a y token must not be seen before its x's prediction) and a
    # positional signal to pair y_i with x_i.
    "separate_d4n8_softmax_mlp": ({"n": 8, **SEPARATE}, {**SOFTMAX_MLP, "causal": True, "private_queries": False},
                                  {"positions": "sinusoidal"}, {}),
    "d8n16_48k": ({"d": 8, "n": 16}, {}, {}, {"steps": 48000}),
}


def measure_seed(regime, seed, num_prompts=EVAL_PROMPTS):
    """Train FULL, PATTERN and REVERSE for one regime and seed; returns JSON rows."""
    task_kw, model_kw, make_kw, train_kw = REGIMES[regime]
    task = make_task(**task_kw)
    training = {**TRAINING, **train_kw}
    P = prompts(task, seed, "measure", num_prompts)
    ns = list(range(1, task.n + 1))
    errors, rows = {}, []
    for heads_per_layer in (FULL, PATTERN, REVERSE):
        start = time.perf_counter()
        model = make_model(task, LAYERS, HEADS, seed, **make_kw, **model_kw)
        mask = architecture_mask(heads_per_layer, HEADS)
        train_with_heads_removed(model, task, mask, seed, training, desc=f"{regime} {heads_per_layer} seed={seed}")
        seconds = time.perf_counter() - start
        errors[heads_per_layer] = an.errors_by_n(model.eval(), task, P, head_mask=mask)[:, ns].mean(1)
        rows.append({"regime": regime, "seed": seed, "heads_per_layer": list(heads_per_layer),
                     "risk": errors[heads_per_layer].mean().item(), "seconds": round(seconds, 1),
                     "steps": training["steps"], "device": str(pick_device()), "task": {**TASK, **task_kw},
                     "model": {**model_kw, **make_kw}})
    mean, ci = paired_difference(errors[REVERSE], errors[PATTERN])
    rows.append({"regime": regime, "seed": seed, "paired": "reverse minus pattern", "mean_diff": mean, "ci": list(ci)})
    return rows


def load(path=OUT):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run(regime, seeds, path=OUT):
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {sorted(REGIMES)}, got {regime!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        if any(r["regime"] == regime and r["seed"] == seed and "paired" in r for r in load(path)):
            continue
        rows = measure_seed(regime, seed)
        with path.open("a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)


def by_regime(path=OUT):
    """{regime: {"seeds", "pattern", "reverse" (ratios to FULL, per seed), "paired" (per seed: (1,H,H) worse than
    (H,1,1) on the same prompts, the interval of (1,H,H) minus (H,1,1) above 0), "reversed" (that interval below 0),
    "holds" (per seed: the criterion), "seconds"}}."""
    rows, out = load(path), {}
    for regime in dict.fromkeys(r["regime"] for r in rows):
        mine = [r for r in rows if r["regime"] == regime]
        risks = {(r["seed"], tuple(r["heads_per_layer"])): r["risk"] for r in mine if "paired" not in r}
        seeds = sorted({s for s, _ in risks if all((s, a) in risks for a in (FULL, PATTERN, REVERSE))})
        pattern = [risks[(s, PATTERN)] / risks[(s, FULL)] for s in seeds]
        reverse = [risks[(s, REVERSE)] / risks[(s, FULL)] for s in seeds]
        ci = {r["seed"]: r["ci"] for r in mine if "paired" in r}  # seed by seed, in the order of `seeds`
        out[regime] = dict(seeds=seeds, pattern=pattern, reverse=reverse,
                           paired=[ci[s][0] > 0 for s in seeds], reversed=[ci[s][1] < 0 for s in seeds],
                           holds=[p <= ENOUGH and r >= NEEDED for p, r in zip(pattern, reverse)],
                           seconds=[r["seconds"] for r in mine if "paired" not in r])
    return out


def summary(path=OUT):
    """A markdown table: per regime, the two ratios to FULL (median and range over seeds), in how many seeds
    (1,H,H) is worse than (H,1,1) on the same prompts, and in how many the pattern's criterion holds."""
    fmt = lambda v: f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"  # noqa: E731
    lines = ["| regime | seeds | (H,1,1) / (H,H,H) | (1,H,H) / (H,H,H) | (1,H,H) worse, paired | "
             "(H,1,1) worse, paired | criterion holds | seconds per model |", "|---|---|---|---|---|---|---|---|"]
    for regime, r in by_regime(path).items():
        lines.append(f"| {regime} | {','.join(map(str, r['seeds']))} | {fmt(r['pattern'])} | {fmt(r['reverse'])} | "
                     f"{sum(r['paired'])}/{len(r['paired'])} | {sum(r['reversed'])}/{len(r['reversed'])} | "
                     f"{sum(r['holds'])}/{len(r['seeds'])} | "
                     f"{statistics.median(r['seconds']):.0f} |")
    return "\n".join(lines)


def verdict(path=OUT):
    """The sentence the course's texts say of the search (a test checks that they say it)."""
    regimes = by_regime(path)
    held = sum(sum(r["holds"]) for r in regimes.values())
    pairs = sum(len(r["seeds"]) for r in regimes.values())
    order = {"paper B's order": [name for name, r in regimes.items() if all(r["paired"])],
             "the reverse": [name for name, r in regimes.items() if all(r["reversed"])]}
    order["neither in every seed"] = [name for name in regimes if not any(name in v for v in order.values())]
    return (f"Paper B's criterion held in {held} of the {pairs} (regime, seed) pairs tried, in {len(regimes)} regimes. "
            "On the same prompts, in every seed of the regime: " +
            "; ".join(f"{what}, {', '.join(names) or 'none'}" for what, names in order.items()) + ".")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run")
    go.add_argument("regime", choices=sorted(REGIMES))
    go.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-9"))
    go.add_argument("--out", type=Path, default=OUT)
    show = sub.add_parser("summary", help="print the table and the verdict")
    show.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "run":
        run(args.regime, args.seeds, args.out)
    else:
        print(summary(args.out), "", verdict(args.out), sep="\n")
