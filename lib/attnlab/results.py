"""The README's tables of Part I and Part II, generated from a reproduction's JSON, so that the numbers a reader
sees are the numbers a run measured (a test checks that the README holds these tables for the committed results).

    python -m attnlab.results results/depth_seeds0-9.json
    python -m attnlab.results results/heads_seeds0-9.json
    python -m attnlab.results results/heads_seeds0-9.json --rows softmax_is_worse,risk:softmax

`--rows` prints only those rows of Part II, with each one's lowest and highest seed: the tables the notebooks
quote (a test checks that they do), so that no ten-seed number in a notebook is typed by hand.

The committed files are the output of `python -m attnlab.reproduce depth --seeds 0-9` and
`python -m attnlab.reproduce heads --seeds 0-9`.
"""
import argparse
import json
import statistics
from pathlib import Path

from . import depth
from .heads import CONTRAST, HEADS, LAYERS, check_bar, claim_range, make_task, per_seed, summarize
from .heads.report import DEFAULT_LABEL, model_label

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
}


def rows_table(results, keys):
    """A markdown table of some claims (CLAIM_KEYS, with how many seeds each holds in) and measures (MEASURES) of a
    heads reproduction: the median, lowest and highest over the seeds."""
    unknown = [k for k in keys if k not in VALUES and k not in MEASURES]
    if unknown:
        raise ValueError(f"unknown rows {unknown}: choose from {sorted(VALUES) + sorted(MEASURES)}")
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
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m attnlab.results", description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the JSON of `python -m attnlab.reproduce depth` or `... heads`")
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
