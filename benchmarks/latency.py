"""Benchmark section 3, slider latency: seconds from a new slider value to the finished PNG that the explorer
displays, for each explorer (see bench.py).

A view of zoo models is drawn once per process (attnlab.widgets keeps its picture), so each explorer is timed
twice: on a first visit of every slider value (the picture cache emptied before each move) and on a return to
values already shown.
"""
import itertools
import statistics
import time

from attnlab import depth, heads, plots, widgets

TARGET_S = 0.25  # a move should feel immediate


def zoo_explorers():
    """{explorer: (view, [the view's arguments at each slider value])}."""
    grid = list(itertools.product(heads.ZOO_LAYERS, heads.ZOO_HEADS))  # the heads explorer's grid: layers, then heads
    return {f"depth explorer, {task}": (widgets.depth_view, [(task, d) for d in depth.DEPTHS])
            for task in ("icqa", "in_context_template")} | {"heads explorer": (widgets.heads_view, grid)}


def seconds(move):
    start = time.perf_counter()
    move()
    return time.perf_counter() - start


def slider_latency(rounds):
    """{explorer: {"first": median seconds of a move to a value not shown yet, "again": to one shown before}};
    softmax scaling (a figure of plain numbers, drawn afresh each time) has "first" only. A view that fails
    (a zoo model not built yet) gets its reason instead."""
    latency = {}
    for name, (view, values) in zoo_explorers().items():
        first, again = [], []
        try:
            for r in range(rounds):
                for args in values:
                    widgets._zoo_picture.cache_clear()
                    first.append(seconds(lambda: widgets._zoo_picture(view, *args)))
                for args in values:  # every value once, kept...
                    widgets._zoo_picture(view, *args)
                for args in values:  # ...so that a return to it is timed
                    again.append(seconds(lambda: widgets._zoo_picture(view, *args)))
        except Exception as error:  # noqa: BLE001 - a zoo under construction must not stop the benchmark
            latency[name] = f"failed: {type(error).__name__}: {error}"
            continue
        latency[name] = {"first": round(statistics.median(first), 3), "again": round(statistics.median(again), 4)}
    widths = [8 * (1 + r % 4) for r in range(max(rounds, 4))]
    latency["softmax scaling"] = {"first": round(statistics.median(
        seconds(lambda: widgets._png(plots.softmax_scaling(width))) for width in widths), 3)}
    return latency


def latency_section(rounds, report):
    report["slider_latency_s"] = slider_latency(rounds)
    print(f"\nslider latency (new value to finished PNG), median seconds (target {TARGET_S} s):")
    print(f"  {'explorer':36s} {'first visit':>12s} {'shown before':>13s}")
    for view, row in report["slider_latency_s"].items():
        if isinstance(row, str):
            print(f"  {view:36s} {row}")
        else:
            again = f"{row['again']:.4f}" if "again" in row else "-"
            print(f"  {view:36s} {row['first']:12.3f} {again:>13s}")
