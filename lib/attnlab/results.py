"""The README's tables of Part I and Part II, generated from a reproduction's JSON, so that the numbers a reader
sees are the numbers a run measured (a test checks that the README holds these tables for the committed results).

    python -m attnlab.results depth
    python -m attnlab.results heads
    python -m attnlab.results heads --rows softmax_is_worse,risk:softmax
    python -m attnlab.results my_run.json          # a reproduction of your own

`--rows` prints only those rows of Part II, with each one's lowest and highest seed: the tables the notebooks
quote (a test checks that they do), so that no ten-seed number in a notebook is typed by hand. Rows named in PAIRED
(such as linear_minus_ridge, or linear_minus_ridge:2 for n = 2 alone) print as a second table: the paired
difference of two predictors on the same prompts, its mean over the seeds with a t-interval over the seeds'
means, and how many seeds' own intervals (over prompts) lie below 0.

`depth` and `heads` name the committed ten-seed runs (COMMITTED), the output of `python -m attnlab.reproduce depth
--seeds 0-9` and `python -m attnlab.reproduce heads --seeds 0-9`. They ship inside the library, so the commands work
wherever it is installed (Colab included), not only in a checkout.
"""
import argparse
import json
import statistics
from pathlib import Path

from . import depth, paired
from .analysis import importance_shares
from .heads import (ARCHITECTURES, CONTRAST, HEADS, LAYERS, PAIRED_METHODS, PRUNED_FINE_TUNED, architecture_label,
                    check_bar, claim_range, make_task, per_seed, pruning_key, summarize)
from .heads.report import DEFAULT_LABEL, model_label

COMMITTED = {kind: Path(__file__).parent / "reproductions" / f"{kind}_seeds0-9.json" for kind in ("depth", "heads")}

# What each claim's value is (the number check_bar's Claim rests on), in the README's words.
VALUES = {
    "beats_baselines": "transformer's mean risk over n = s..d below tuned ridge, gd and Lasso (value: ours / best of "
                       "the three)",
    "below_ridge_at_d": "transformer below ridge at n = d (ours / ridge)",
    "preprocess_gd_beats_gd": "preprocess_gd (k = 10) below gd and ridge over n = s..d-1 (ratio)",
    "layer1_spread": "layer 1: no head above half of the layer's importance (top share)",
    "layer1_needs_its_heads": "keeping one head in layer 1 raises the risk by 30% or more (that risk / full)",
    "later_layers_concentrated": "each later layer: the top head carries at least 60% (smaller top share)",
    "pruning_keeps_risk": "pruning each later layer to its top head keeps the risk within 10% (pruned / full)",
    "probe_falls_by_layer": "the probe's risk falls from each layer to the next (largest ratio)",
    "softmax_is_worse": "the softmax contrast is worse than the linear default (softmax / linear)",
    "beats_baselines_paired": "on the same prompts, the transformer minus each of ridge, gd and Lasso over n = s..d "
                              "has its 95% interval below 0 (value: the highest upper end)",
    "layer1_matters_most_by_mean_ablation": "by mean-ablation, layer 1 matters more than any later layer (layer 1's "
                                            "summed rise / the largest later layer's)",
    "trained_one_head_later_within_10pct": "trained with (H, 1, 1) heads per layer, within 10% of (H, H, H) (ratio)",
    "trained_one_head_in_layer1_costs_30pct": "trained with (1, H, H) heads per layer, at least 30% above (H, H, H) "
                                              "(ratio)",
    "fine_tuned_pruning_keeps_risk": "pruned to the top head of each later layer, then fine-tuned, within 10% of the "
                                     "full model (ratio)",
}


def number(value):
    """Two significant digits, as the README prints them (0.77, 8.8, 24)."""
    return f"{value:.2f}" if abs(value) < 1 else f"{value:.2g}" if abs(value) >= 10 else f"{value:.1f}"


def claims_table(results):
    """The markdown table of every claim over the seeds of a heads reproduction: holds in, median, worst seed."""
    lines = ["| claim | holds in | median | worst seed |", "|---|---|---|---|"]
    for key, _, held, count, median, worst in summarize(check_bar(results)):
        lines.append(f"| {VALUES[key]} | {held} / {count} | {number(median)} | {number(worst)} |")
    return "\n".join(lines)


SOFTMAX_LABEL = model_label(CONTRAST["attention"], LAYERS, HEADS)


def short_name(heads_per_layer):
    """(8, 1, 1) -> "H11": heads per layer, H for all of them (HEADS)."""
    return "".join("H" if k == HEADS else str(k) for k in heads_per_layer)


def _first_n_below(res, a, b):
    """The first n >= 1 whose paired interval a minus b lies below 0 (paired.first_n_below), inf when none does."""
    found = paired.first_n_below({n: res.paired[a, b, (n,)] for n in range(1, make_task().n + 1)})
    return float("inf") if found is None else found


def _mean_over_claim_range(curve):
    ns = claim_range(make_task())
    return sum(curve[n] for n in ns) / len(ns)


# Measures that are not claims, in the notebooks' words, each as a function of one seed's SeedResult.
MEASURES = {
    **{f"risk:{name}": (f"mean risk over n = s..d: {words}", lambda res, label=label: _mean_over_claim_range(res.risk[label]))
       for name, label, words in [("linear", DEFAULT_LABEL, "the linear transformer"),
                                  ("softmax", SOFTMAX_LABEL, "the softmax transformer"),
                                  ("ridge", "ridge", "tuned ridge"), ("gd", "gd", "tuned gd"), ("lasso", "lasso", "the Lasso"),
                                  ("oracle", "oracle", "the oracle (least squares on the support)")]},
    "softmax_over_ridge": ("softmax transformer / ridge, mean risk over n = s..d",
                           lambda res: _mean_over_claim_range(res.risk[SOFTMAX_LABEL]) / _mean_over_claim_range(res.risk["ridge"])),
    **{f"probe:{layer}": (f"probe's risk at n = d, {where}", lambda res, layer=layer: res.probing[DEFAULT_LABEL][layer])
       for layer, where in enumerate(["at the embedding", "after layer 1", "after layer 2", "after layer 3"])},
    **{f"{method}:{k}": (f"{words}, {k} step{'s' * (k > 1)}, at n = d", lambda res, method=method, k=k: res.reference[method][k])
       for method, words in [("gd", "tuned gd"), ("preprocess_gd", "tuned preprocess_gd")] for k in (1, 3)},
    "first_layer_one_head_over_full": ("one head left in layer 1 / full model, mean risk",
                                       lambda res: res.pruning["first_layer_one_head"] / res.pruning["full"]),
    "pruned_over_full": ("each later layer pruned to its top head / full model, mean risk",
                         lambda res: res.pruning["pruned"] / res.pruning["full"]),
    **{f"reweighting:{name}": (f"R^2 of x * c read from layer 1's output: the {name} transformer",
                               lambda res, label=label: res.reweighting[label]["x * c"])
       for name, label in [("linear", DEFAULT_LABEL), ("softmax", SOFTMAX_LABEL)]},
    **{f"{variant}_mean_over_full": (f"{words}, the others mean-ablated / full model, mean risk",
                                     lambda res, variant=variant: res.pruning[pruning_key(variant, "mean")]
                                     / res.pruning["full"])
       for variant, words in [("pruned", "the top head of each later layer kept"),
                              ("first_layer_one_head", "the top head of every layer kept")]},
    "pruned_fine_tuned_over_full": ("each later layer pruned to its top head, then fine-tuned / full model, mean risk",
                                    lambda res: res.pruning[pruning_key("pruned", fine_tuned=True)] / res.pruning["full"]),
    **{f"architecture:{short_name(a)}": (f"trained with {architecture_label(a)} per layer / with all heads, mean risk",
                                         lambda res, a=a: res.architectures[a] / res.architectures[ARCHITECTURES[0]])
       for a in ARCHITECTURES[1:]},
    **{f"ablation:{kind}:{layer}": (f"layer {layer}: rise in mean risk by {kind}-ablation, summed over its heads",
                                    lambda res, kind=kind, layer=layer: sum(res.ablation[kind][layer - 1]))
       for kind in ("zero", "mean") for layer in range(1, LAYERS + 1)},
    **{f"top_share:{kind}:{layer}": (f"layer {layer}: its top head's share of the layer's rise, by {kind}-ablation",
                                     lambda res, kind=kind, layer=layer:
                                     importance_shares(res.ablation[kind]).max(1).values[layer - 1].item())
       for kind in ("zero", "mean") for layer in range(1, LAYERS + 1)},
    "first_n_below_ridge": ("the first n >= 1 where the transformer minus ridge, on the same prompts, has its 95% "
                            "interval below 0 (inf: none)", lambda res: _first_n_below(res, DEFAULT_LABEL, "ridge")),
}

# Paired comparisons: key -> (a, b), the labels of the reproduction's "paired" rows, for a minus b.
NAMES = {"linear": DEFAULT_LABEL, "softmax": SOFTMAX_LABEL, "pruned_fine_tuned": PRUNED_FINE_TUNED,
         **{method: method for method in PAIRED_METHODS}, **{short_name(a): architecture_label(a) for a in ARCHITECTURES}}
PAIRED = {f"{a}_minus_{b}": (NAMES[a], NAMES[b])
          for a, b in [(model, method) for model in ("linear", "softmax") for method in PAIRED_METHODS]
          + [("softmax", "linear"), ("pruned_fine_tuned", "linear")]
          + [(short_name(a), short_name(ARCHITECTURES[0])) for a in ARCHITECTURES[1:]]}


def _paired_key(key):
    """(a, b, ns) of a PAIRED key, with ":n" for one number of examples (default: n = s..d); None if not one."""
    name, _, n = key.partition(":")
    task = make_task()
    if name not in PAIRED or (n and not (n.isdigit() and 1 <= int(n) <= task.n)):
        return None
    return (*PAIRED[name], (int(n),) if n else tuple(claim_range(task)))


def paired_table(results, keys):
    """A markdown table of paired differences (keys of PAIRED, see the module's doc) over the seeds of a heads
    reproduction: the mean of the seeds' mean differences, its 95% t-interval over the seeds (none with one seed),
    and in how many seeds the interval over prompts lies below 0."""
    seeds = per_seed(results).values()
    lines = ["| a minus b, on the same prompts | n | mean over the seeds | 95% interval over the seeds (t) | "
             "seeds below 0 |", "|---|---|---|---|---|"]
    for key in keys:
        a, b, ns = _paired_key(key)
        measured = [res.paired[a, b, ns] for res in seeds]
        means = [mean for mean, _ in measured]
        interval = "-" if len(means) < 2 else "{} to {}".format(*map(number, paired.over_seeds(means)[1]))
        below = sum(high < 0 for _, (_, high) in measured)
        over = f"{ns[0]}..{ns[-1]}" if len(ns) > 1 else f"{ns[0]}"
        lines.append(f"| {a} minus {b} | {over} | {number(statistics.fmean(means))} | {interval} | "
                     f"{below} / {len(measured)} |")
    return "\n".join(lines)


def rows_table(results, keys):
    """A markdown table of some claims (CLAIM_KEYS, with how many seeds each holds in) and measures (MEASURES) of a
    heads reproduction: the median, lowest and highest over the seeds."""
    unknown = [k for k in keys if k not in VALUES and k not in MEASURES and _paired_key(k) is None]
    if unknown:
        raise ValueError(f"unknown rows {unknown}: choose from {sorted(VALUES) + sorted(MEASURES) + sorted(PAIRED)} "
                         f"(a PAIRED key may end in :n for one n)")
    pairs = [k for k in keys if _paired_key(k) is not None]
    keys = [k for k in keys if k not in pairs]
    if not keys:
        return paired_table(results, pairs)
    claims = {key: [c for claims in check_bar(results).values() for c in claims if c.key == key] for key in keys if key in VALUES}
    seeds = per_seed(results).values()
    lines = ["| over the seeds | median | lowest | highest | holds in |", "|---|---|---|---|---|"]
    for key in keys:
        if key in VALUES:
            values, text, held = [c.value for c in claims[key]], VALUES[key], f"{sum(c.holds for c in claims[key])} / {len(claims[key])}"
        else:
            (text, value), held = MEASURES[key], ""
            values = [value(res) for res in seeds]
        lines.append(f"| {text} | {number(statistics.median(values))} | {number(min(values))} | {number(max(values))} | {held} |")
    return "\n".join(lines) + (f"\n\n{paired_table(results, pairs)}" if pairs else "")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m attnlab.results", description=__doc__.splitlines()[0])
    parser.add_argument("results", type=lambda text: COMMITTED.get(text, Path(text)),
                        help="depth or heads (the committed ten-seed runs), or the JSON of `python -m "
                        "attnlab.reproduce depth` or `... heads`")
    parser.add_argument("--rows", type=lambda text: text.split(","), help="Part II only: these claims and measures, "
                        "comma-separated (see attnlab.results.VALUES and MEASURES)")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
    except (OSError, json.JSONDecodeError) as error:
        parser.error(f"cannot read {args.results}: {error}")
    heads_table = (lambda: rows_table(results, args.rows)) if args.rows else lambda: claims_table(results)
    tables = {"depth": lambda: depth.format_table(results["results"]), "heads": heads_table}
    if results.get("kind") not in tables:
        parser.error(f"{args.results} is not a depth or heads reproduction (its kind is {results.get('kind')!r})")
    if args.rows and results["kind"] != "heads":
        parser.error("--rows is for a heads reproduction only")
    try:
        print(tables[results["kind"]]())
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
