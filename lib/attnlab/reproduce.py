"""Reproduce a part of the course from scratch, from the command line.

    python -m attnlab.reproduce depth --seeds 0,1,2 --out results.json
    python -m attnlab.reproduce heads --seeds 0,1,2 --out results.json
    python -m attnlab.reproduce heads --seeds 0-9 --out results.json     # the ten-seed check
    python -m attnlab.reproduce heads --seeds 0 --steps 300 --fine-tune-steps 100 --prompts 500 --out /tmp/smoke.json
    python -m attnlab.reproduce heads --merge part1.json part2.json --out results.json

Prints the tables, saves the figures beside the JSON file, and writes the JSON. Part II only: --steps,
--fine-tune-steps and --prompts shrink the recipe for a quick run through every step (its numbers are not the
study's); --merge pools runs of the same recipe on different seeds (two processes of five seeds each, say).
"""
import argparse
import importlib
import json
from pathlib import Path

from .cli import output_file, positive_int

# Each study is a module with reproduce(seeds, out_dir) -> a JSON-ready dict with its "kind".
STUDIES = {"depth": "attnlab.depth", "heads": "attnlab.heads"}


def parse_seeds(text):
    """"0,1,2" or a range "0-9" (both ends included), or both: "0-4,7"."""
    seeds = []
    try:
        for part in (p.strip() for p in text.split(",")):
            first, _, last = part.partition("-")
            seeds += list(range(int(first), int(last) + 1)) if last else [int(first)]
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be a comma-separated list of non-negative integers or ranges "
                                         f"such as 0-9, got {text!r}")
    return seeds


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m attnlab.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2], help="comma-separated, or a range: 0,1,2 or 0-9")
    parser.add_argument("--out", type=output_file, default=Path("results.json"),
                        help="where to write the JSON (checked before any training)")
    parser.add_argument("--steps", type=positive_int, help="heads only: training steps of every model (the recipe's "
                        "when not given)")
    parser.add_argument("--fine-tune-steps", type=positive_int, help="heads only: steps of the pruned model's fine-tune")
    parser.add_argument("--prompts", type=positive_int, help="heads only: evaluation prompts of every measurement")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="PART", help="heads only: write the JSONs of runs "
                        "on different seeds as one to --out, instead of training")
    args = parser.parse_args(argv)
    quick = {key: value for key, value in (("steps", args.steps), ("fine_tune_steps", args.fine_tune_steps),
                                           ("num_prompts", args.prompts)) if value is not None}
    if args.study != "heads" and (quick or args.merge):
        parser.error("--steps, --fine-tune-steps, --prompts and --merge are for the heads study only")
    study = importlib.import_module(STUDIES[args.study])
    if args.merge:
        try:
            results = study.merge([json.loads(path.read_text()) for path in args.merge])
        except (OSError, json.JSONDecodeError, ValueError) as error:
            parser.error(f"cannot merge {[str(path) for path in args.merge]}: {error}")
    else:
        results = study.reproduce(args.seeds, args.out.parent, **quick)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
