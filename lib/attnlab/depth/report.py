"""Part I from scratch: every task at every depth for every seed, the table, the figure and the JSON.

    python -m attnlab.reproduce depth --seeds 0,1,2 --out results.json
"""
import time
from pathlib import Path

from ..plots import depth_study
from ..tasks.depth import TASKS
from .config import DEPTHS
from .run import check_task_name, make_task, train_depth_model


def summarize(results):
    """{(task, depth): (mean, spread, chance, n)} where spread is (max - min) / 2 over seeds."""
    table = {}
    for row in results:
        table.setdefault((row["task"], row["depth"]), []).append(row)
    summary = {}
    for key, rows in table.items():
        values = [r["accuracy"] for r in rows]
        summary[key] = (sum(values) / len(values), (max(values) - min(values)) / 2, rows[0]["chance"], len(rows))
    return summary


def format_table(results):
    """The task x depth table: mean accuracy +- half the range over seeds, and chance, in percent."""
    summary = summarize(results)
    tasks = [t for t in TASKS if any(k[0] == t for k in summary)]
    depths = sorted({k[1] for k in summary})
    seeds = sorted({r["seed"] for r in results})
    lines = [f"accuracy on the test split, mean +- half range over seeds {seeds} (percent)",
             f"{'task':<22}" + "".join(f"{'depth ' + str(d):>14}" for d in depths) + f"{'chance':>9}"]
    for task in tasks:
        cells = []
        for d in depths:
            if (task, d) in summary:
                mean, spread, chance, _ = summary[(task, d)]
                cells.append(f"{100 * mean:>8.1f} +-{100 * spread:>4.1f}")
            else:
                cells.append(f"{'-':>14}")
        chance = next(v[2] for k, v in summary.items() if k[0] == task)
        lines.append(f"{task:<22}" + "".join(cells) + f"{100 * chance:>9.1f}")
    seconds = [r["seconds"] for r in results]
    lines.append(f"{len(results)} runs, {sum(seconds):.0f} s of training in all, {sum(seconds) / len(seconds):.1f} s per run")
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
                                "chance": chance, "seconds": round(history.seconds, 2),
                                "steps": history.step[-1]})
                print(f"{task_name:<20} depth {depth} seed {seed}: accuracy {100 * accuracy:5.1f}% "
                      f"(chance {100 * chance:.1f}%), {history.step[-1]} steps, {history.seconds:.1f} s "
                      f"[{time.perf_counter() - start:.0f} s so far]", flush=True)
    print()
    print(format_table(results))
    figure_path = out_dir / "depth_accuracy.png"
    plot_results(results, figure_path)
    print(f"saved {figure_path}")
    return {"kind": "depth", "results": results}

