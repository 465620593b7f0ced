"""Benchmark section 3, slider latency: seconds from a new slider value to the finished PNG that the explorer
displays, for each explorer (see bench.py).

A view of zoo models is drawn once per process (attnlab.widgets.ZooPictures), and an explorer draws the other
slider values ahead, in a background thread, once it has shown its first picture. So each explorer is timed
three ways:
- "draw": a first visit with nothing drawn ahead (the picture cache emptied before each move): the cost of one
  picture;
- "student": the explorer opened, then every other value visited once, one slider step at a time, one move every
  THINK_S seconds (the time a student looks at a picture before moving on), with the explorer's own drawing
  ahead; the slowest of these moves is reported too (a jump across the slider before its picture is drawn
  ahead costs a drawing, slowed by the one going on behind it);
- "again": a return to a value already shown.
"""
import itertools
import statistics
import time

from attnlab import depth, heads, plots, widgets

TARGET_S = 0.25  # a move should feel immediate
THINK_S = 1.0  # seconds between a student's moves


def zoo_explorers():
    """{explorer: (view, [the view's arguments at each slider value])}."""
    grid = list(itertools.product(heads.ZOO_LAYERS, heads.ZOO_HEADS))  # the heads explorer's grid: layers, then heads
    return {f"depth explorer, {task}": (widgets.depth_view, [(task, d) for d in depth.DEPTHS])
            for task in ("icqa", "in_context_template")} | {"heads explorer": (widgets.heads_view, grid)}


def student_tour(view, values):
    """Seconds of each move of a student who opens the explorer on values[0] (the rest are drawn ahead in the
    slider's order, as widgets.depth_explorer and heads_explorer do from one end of their sliders) and then steps
    through every other value in that order, one move every THINK_S seconds."""
    pictures = widgets.zoo_pictures
    pictures.clear()
    pictures.get(view, *values[0])
    thread = pictures.draw_ahead(view, values[1:])
    moves = []
    for args in values[1:]:
        time.sleep(THINK_S)
        moves.append(seconds(lambda: pictures.get(view, *args)))
    thread.join()
    return moves


def seconds(move):
    start = time.perf_counter()
    move()
    return time.perf_counter() - start


def slider_latency(rounds):
    """{explorer: median seconds of a move: "draw" (nothing drawn ahead), "student" (moves THINK_S apart, with
    the drawing ahead; "student_worst" is the slowest of those moves), "again" (back to a value shown before)}; softmax scaling (a figure of plain numbers,
    drawn afresh each time) has "draw" only. A view that fails (a zoo model not built yet) gets its reason."""
    latency, pictures = {}, widgets.zoo_pictures
    for name, (view, values) in zoo_explorers().items():
        draw, student, again = [], [], []
        try:
            for r in range(rounds):
                for args in values:
                    pictures.clear()
                    draw.append(seconds(lambda: pictures.get(view, *args)))
                student += student_tour(view, values)
                for args in values:  # every value is shown by now, so a return to it is timed
                    again.append(seconds(lambda: pictures.get(view, *args)))
        except Exception as error:  # noqa: BLE001 - a zoo under construction must not stop the benchmark
            latency[name] = f"failed: {type(error).__name__}: {error}"
            continue
        latency[name] = {"draw": round(statistics.median(draw), 3), "student": round(statistics.median(student), 4),
                         "student_worst": round(max(student), 3), "again": round(statistics.median(again), 4)}
    widths = [8 * (1 + r % 4) for r in range(max(rounds, 4))]
    latency["softmax scaling"] = {"draw": round(statistics.median(
        seconds(lambda: widgets._png(plots.softmax_scaling(width))) for width in widths), 3)}
    return latency


def latency_section(rounds, report):
    report["slider_latency_s"] = slider_latency(rounds)
    print(f"\nslider latency (new value to finished PNG), median seconds (target {TARGET_S} s):")
    print(f"  {'explorer':36s} {'one drawing':>12s} {f'moves {THINK_S:g} s apart':>18s} {'(slowest)':>10s} "
          f"{'shown before':>13s}")
    for view, row in report["slider_latency_s"].items():
        if isinstance(row, str):
            print(f"  {view:36s} {row}")
        else:
            student, worst, again = (f"{row[k]:.{digits}f}" if k in row else "-"
                                     for k, digits in (("student", 4), ("student_worst", 3), ("again", 4)))
            print(f"  {view:36s} {row['draw']:12.3f} {student:>18s} {worst:>10s} {again:>13s}")
