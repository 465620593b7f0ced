"""Reproduce a part of the course from scratch, from the command line.

    python -m attnlab.reproduce depth --seeds 0,1,2 --out results.json
    python -m attnlab.reproduce heads --seeds 0,1,2 --out results.json
    python -m attnlab.reproduce heads --seeds 0-9 --out results.json     # the ten-seed check

Prints the tables, saves the figures beside the JSON file, and writes the JSON.
"""
import argparse
import importlib
import json
from pathlib import Path

from .cli import output_file

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
    args = parser.parse_args(argv)
    study = importlib.import_module(STUDIES[args.study])
    results = study.reproduce(args.seeds, args.out.parent)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
