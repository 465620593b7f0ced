"""The course's speed, side by side with the tools a researcher would reach for, on this machine.

    pip install -r benchmarks/requirements.txt
    python benchmarks/bench.py --json benchmarks/results.json     # every section, under 15 minutes
    python benchmarks/bench.py --quick                            # a smoke test without the notebooks, about a minute
    python benchmarks/bench.py --only time                        # one section (training, time, latency, notebooks)
    python benchmarks/bench.py --no-notebooks                     # skip the notebook budget

Each section is a module beside this script (training_step.py, time_to_result.py, latency.py,
notebook_section.py); this script reads the arguments and runs the sections in order. Every contender runs in
this one process (the notebooks in their own), with the same thread count (the library's default, one), and
the contenders alternate (within each round, or run after run), so that machine noise falls on all of them alike. The tables give medians over rounds and ratios against our model.
See BENCHMARKS.md for a run and how to read it.

1. training: a training step (forward, backward, AdamW) on the same data: our Transformer against Hugging
   Face's GPT2Model and torch.nn.TransformerEncoder of identical width, depth, heads and sequence length, at the
   course's Part I and Part II sizes. GPT-2 and TransformerEncoder always carry an MLP; our course models are
   attention-only, so "ours + MLP" is listed too: it is the like-for-like architecture. Beside it, how close to
   the machine: the FLOP/s a step achieves (FLOPs counted by torch's FlopCounterMode) as a fraction of a large
   fp32 matmul measured in the same run; and our Part II step with one and with two threads.
2. time: time to result, in wall seconds. Part I: until each depth task reaches its threshold accuracy at the
   depth that should suffice, for our recipe (depth.RECIPES, the library's train()) and for GPT-2 with the
   recipe of Garg et al. (2022) on the same data, each run under a wall-clock cap. Part II: until the default
   model (attnlab.heads) beats tuned ridge on the task's metric, and where GPT-2 stands after the same time.
3. latency: slider latency, from a new value to a finished PNG, for the zoo-backed views.
4. notebooks: time and peak memory of every solution notebook, by benchmarks/notebook_budget.py. Today that is
   about a minute; if the course's notebooks grow so that the whole run passes 15 minutes, skip it with
   --no-notebooks and run it on its own (--only notebooks).
"""
import argparse
import json
import os
import time
from datetime import datetime, timezone

import torch

from attnlab import pick_device
from attnlab.cli import output_file, positive_float, positive_int
from latency import latency_section
from notebook_section import notebook_section
from time_to_result import time_section
from training_step import training_section

SECTIONS = ("training", "time", "latency", "notebooks")
BUDGET_S = 15 * 60  # the whole benchmark, every section, must fit in 15 minutes


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable)")
    parser.add_argument("--no-notebooks", action="store_true", help="skip the notebook budget (each notebook "
                        "may take up to 3 minutes by the course's budget)")
    parser.add_argument("--quick", action="store_true", help="tiny rounds and caps: a smoke test")
    parser.add_argument("--rounds", type=positive_int, default=5, help="rounds of the training-step and latency sections")
    parser.add_argument("--steps", type=positive_int, default=20, help="training steps per contender per round")
    parser.add_argument("--seeds-ours", type=positive_int, default=3, help="seeds of our Part I time-to-result runs")
    parser.add_argument("--seeds-gpt2", type=positive_int, default=1, help="seeds of GPT-2's (each can take the whole cap)")
    parser.add_argument("--cap-part1", type=positive_float, default=100, help="wall-clock cap per Part I run, seconds")
    parser.add_argument("--cap-part2", type=positive_float, default=170, help="wall-clock cap of our Part II run, "
                        "seconds (GPT-2 then gets as long as ours took)")
    parser.add_argument("--json", type=output_file, help="also write the report here (checked before any work)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps, args.seeds_ours, args.seeds_gpt2, args.cap_part1, args.cap_part2 = 2, 3, 2, 1, 3, 8
    skip_notebooks = args.no_notebooks or args.quick  # a smoke test of the benchmark, not of the notebooks
    args.sections = args.only or [s for s in SECTIONS if s != "notebooks" or not skip_notebooks]
    return args


def main():
    args = parse_args()
    pick_device("cpu")  # the library's thread choice, for every contender alike
    start = time.perf_counter()
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "sections": args.sections, "load_average_start": os.getloadavg(),
              "training": [], "section_s": {}}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); sections {', '.join(args.sections)}; "
          f"load average {os.getloadavg()[0]:.2f}")
    run = {"training": lambda: training_section(args.rounds, args.steps, report),
           "time": lambda: time_section(args.seeds_ours, args.seeds_gpt2, args.cap_part1, args.cap_part2, report),
           "latency": lambda: latency_section(args.rounds, report),
           "notebooks": lambda: notebook_section(report)}
    for section in SECTIONS:  # always in this order, whatever the order of --only
        if section in args.sections:
            began = time.perf_counter()
            run[section]()
            report["section_s"][section] = round(time.perf_counter() - began, 1)
    report["load_average_end"] = os.getloadavg()
    report["wall_s"] = round(time.perf_counter() - start, 1)
    sections = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report["section_s"].items())
    print(f"\ntotal wall time {report['wall_s']:.0f} s ({sections}); load average (1 min) at start "
          f"{report['load_average_start'][0]:.2f}, at end {report['load_average_end'][0]:.2f}")
    if report["wall_s"] > BUDGET_S:
        print(f"OVER the {BUDGET_S // 60} minute budget: lower --cap-part2 or --cap-part1, or use --no-notebooks")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
