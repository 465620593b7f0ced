"""Part I from scratch: every task at every depth for every seed, the table, the figure and the JSON.

    python -m attnlab.reproduce depth --seeds 0,1,2 --out results.json
"""
import statistics
import time
from pathlib import Path

from ..plots import depth_study
from ..tasks.depth import TASKS
from .config import BARS, DEPTHS, GAPS
from .run import check_task_name, make_task, train_depth_model


def by_cell(results):
    """{(task, depth): {seed: accuracy}} of a reproduction's rows."""
    cells = {}
    for row in results:
        cells.setdefault((row["task"], row["depth"]), {})[row["seed"]] = row["accuracy"]
    return cells


def bar_holds(kind, value, accuracy, chance):
    return accuracy >= value if kind == "at_least" else accuracy <= chance + value


def check_bars(results):
    """Every bar of config.BARS and config.GAPS on every seed of a reproduction that ran it:
    [(task, depth, bar in words, {seed: holds})]."""
    cells, chances = by_cell(results), {row["task"]: row["chance"] for row in results}
    checks = []
    for task, bars in BARS.items():
        for d, (kind, value) in bars.items():
            if (task, d) in cells:
                words = f">= {100 * value:g}%" if kind == "at_least" else f"<= chance + {100 * value:g}"
                checks.append((task, d, words, {seed: bar_holds(kind, value, accuracy, chances[task])
                                                for seed, accuracy in cells[(task, d)].items()}))
    for task, deep, shallow, points in GAPS:
        if (task, deep) in cells and (task, shallow) in cells:
            shared = cells[(task, deep)].keys() & cells[(task, shallow)].keys()
            holds = {seed: cells[(task, deep)][seed] >= cells[(task, shallow)][seed] + points for seed in shared}
            checks.append((task, deep, f">= depth {shallow} + {100 * points:g}", holds))
    return checks


def misses(results):
    """[(task, depth, bar, seed)] of every bar that fails on some seed: empty when Part I holds."""
    return [(task, d, words, seed) for task, d, words, holds in check_bars(results)
            for seed, ok in sorted(holds.items()) if not ok]


def format_table(results, tasks=None):
    """The markdown task x depth table: median and worst seed's test accuracy (percent), and under each bar, in
    how many seeds it holds. The worst seed is the one furthest on the wrong side of the cell's bar (the lowest
    where there is none). `tasks` keeps only their rows (and runs): notebooks I.1-I.4 each show their own task's.
    """
    results = [row for row in results if tasks is None or row["task"] in tasks]
    cells, chances = by_cell(results), {row["task"]: row["chance"] for row in results}
    checks = {}
    for task, d, words, holds in check_bars(results):
        checks.setdefault((task, d), []).append(f"{words}: {sum(holds.values())}/{len(holds)}")
    depths = sorted({d for _, d in cells})
    seeds = sorted({row["seed"] for row in results})
    lines = [f"| task | {' | '.join(f'depth {d}' for d in depths)} | chance |",
             "|---" * (len(depths) + 2) + "|"]
    for task in [t for t in TASKS if t in chances]:
        row = []
        for d in depths:
            accuracies = list(cells.get((task, d), {}).values())
            if not accuracies:
                row.append("-")
                continue
            upper = BARS.get(task, {}).get(d, ("at_least",))[0] == "at_most_above_chance"
            worst = max(accuracies) if upper else min(accuracies)
            cell = f"{100 * statistics.median(accuracies):.1f} (worst {100 * worst:.1f})"
            row.append("<br>".join([cell, *checks.get((task, d), [])]))
        lines.append(f"| {task} | {' | '.join(row)} | {100 * chances[task]:.1f} |")
    consecutive = seeds == list(range(seeds[0], seeds[-1] + 1))
    minutes = sum(row["seconds"] for row in results) / 60
    lines.append(f"\nTest accuracy (percent) over seeds {f'{seeds[0]}-{seeds[-1]}' if consecutive else seeds}: median "
                 f"(worst seed); under a claim, in how many seeds it holds. {len(results)} runs, {minutes:.0f} minutes "
                 f"of training.")
    return "\n".join(lines)


def plot_results(results, path=None):
    """Accuracy against depth, one panel per task (`plots.depth_study`): every seed as a dot, the mean as a line,
    chance dashed. Returns the matplotlib Figure; saves it to `path` when given."""
    by_task = {}
    for row in results:
        accuracies, _ = by_task.setdefault(row["task"], ({}, row["chance"]))
        accuracies.setdefault(row["depth"], []).append(row["accuracy"])
    fig = depth_study({task: by_task[task] for task in TASKS if task in by_task})
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def reproduce(seeds, out_dir, tasks=None, depths=DEPTHS, progress=False):
    """Train every task at every depth for every seed, from scratch; print the table, save the figure
    `depth_accuracy.png` in out_dir, and return {"kind": "depth", "results": [...]}."""
    tasks = list(TASKS) if tasks is None else list(tasks)
    for task_name in tasks:
        check_task_name(task_name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    start = time.perf_counter()
    for task_name in tasks:
        chance = make_task(task_name).chance
        for depth in depths:
            for seed in seeds:
                _, history, accuracy = train_depth_model(task_name, depth, seed, progress=progress)
                results.append({"task": task_name, "depth": depth, "seed": seed, "accuracy": accuracy,
                                "chance": chance, "seconds": round(sum(seconds for *_, seconds in history.attempts), 2),
                                "steps": sum(steps for steps, *_ in history.attempts),
                                "attempts": len(history.attempts)})
                print(f"{task_name:<20} depth {depth} seed {seed}: accuracy {100 * accuracy:5.1f}% "
                      f"(chance {100 * chance:.1f}%), {results[-1]['steps']} steps in {len(history.attempts)} "
                      f"attempt(s), {results[-1]['seconds']:.1f} s "
                      f"[{time.perf_counter() - start:.0f} s so far]", flush=True)
    print()
    print(format_table(results))
    failed = misses(results)
    print("every bar holds on every seed" if not failed else
          "bars missed: " + "; ".join(f"{task} depth {d} {bar} on seed {seed}" for task, d, bar, seed in failed))
    figure_path = out_dir / "depth_accuracy.png"
    plot_results(results, figure_path)
    print(f"saved {figure_path}")
    return {"kind": "depth", "results": results}

