"""The README's tables of Part I and Part II, generated from a reproduction's JSON, so that the numbers a reader
sees are the numbers a run measured (a test checks that the README holds these tables for the committed results).

    python -m attnlab.results results/depth_seeds0-9.json
    python -m attnlab.results results/heads_seeds0-9.json

The committed files are the output of `python -m attnlab.reproduce depth --seeds 0-9` and
`python -m attnlab.reproduce heads --seeds 0-9`.
"""
import argparse
import json
from pathlib import Path

from . import depth
from .heads import check_bar, summarize

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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m attnlab.results", description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the JSON of `python -m attnlab.reproduce depth` or `... heads`")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
    except (OSError, json.JSONDecodeError) as error:
        parser.error(f"cannot read {args.results}: {error}")
    tables = {"depth": lambda: depth.format_table(results["results"]), "heads": lambda: claims_table(results)}
    if results.get("kind") not in tables:
        parser.error(f"{args.results} is not a depth or heads reproduction (its kind is {results.get('kind')!r})")
    print(tables[results["kind"]]())


if __name__ == "__main__":
    main()
