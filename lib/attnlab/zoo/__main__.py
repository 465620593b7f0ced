"""python -m attnlab.zoo {list, verify, rebuild, remeasure}: inspect, check, rebuild or re-measure the pretrained
models."""
import argparse

from . import ZooError, load, manifest, rebuild, remeasure


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m attnlab.zoo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every model with its metrics")
    commands.add_parser("verify", help="check every file against its sha256")
    build = commands.add_parser("rebuild", help="train models from scratch and rewrite the manifest")
    build.add_argument("--study", choices=["depth", "heads"])
    build.add_argument("--only", nargs="+", metavar="NAME")
    measure = commands.add_parser("remeasure", help="measure a study's models afresh, weights unchanged")
    measure.add_argument("--study", default="heads")
    args = parser.parse_args(argv)

    if args.command == "remeasure":
        try:
            remeasure(args.study)
        except ValueError as error:
            parser.error(str(error))
        return

    if args.command == "rebuild":
        try:
            rebuild(args.study, args.only)
        except ValueError as error:  # a bad --only: said before any training
            parser.error(str(error))
        return
    bad = 0
    for name, info in manifest().items():
        if args.command == "list":
            print(f"{name:40s} {info['steps']:6d} steps  {info['metrics']}")
            continue
        try:
            load(name)
            print(f"ok   {name}")
        except ZooError as error:
            bad += 1
            print(f"BAD  {error}")
    if bad:
        raise SystemExit(f"{bad} zoo file(s) failed verification")


if __name__ == "__main__":
    main()
