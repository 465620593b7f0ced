"""Interactive views built from core ipywidgets only (so they render on Colab, Binder and JupyterLab alike)."""
import os

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from ipywidgets import Button, Dropdown, HBox, IntSlider, Output, SelectionSlider, VBox, interactive

from . import depth as study
from . import heads as heads_study
from .plots import accuracy_vs_depth, importance_grid, layer_patterns, learning_curve, risk_vs_n


def _show(fig):
    """Display a figure once, print its title as text (for screen readers and tests), and free it."""
    display(fig)
    print(fig.get_suptitle())
    plt.close(fig)


def no_front_end():
    """True under nbgrader's autograding ($NBGRADER_EXECUTION is set): nobody moves a slider there, and nbclient
    sometimes waits out its whole cell timeout on a cell that shows a live widget (measured: about one run in
    six with an interactive or Output widget), which would cost a student points. Explorers then show their
    view at the starting values as a plain figure."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def interactive_figure(draw, **controls):
    """Like ipywidgets.interactive, for a function that returns a matplotlib figure: each change of a control
    redraws the figure once (interact alone would show it twice: once returned, once by the inline backend).
    With no front end (see no_front_end), the figure at the controls' starting values, and no widget."""
    if no_front_end():
        return _show(draw(**{name: control.value for name, control in controls.items()}))
    return interactive(lambda **values: _show(draw(**values)), **controls)


def depth_view(task_name="icqa", depth=2, run=None):
    """The depth explorer's view as a plain figure, no widgets (for grading, tests and static pages):
    accuracy against depth, the learning curve, and every layer's attention on one test example.
    run: a live `depth.Run` to show instead of the zoo's model at this depth."""
    task = study.make_task(task_name)
    run = run or study.pretrained_run(task_name, depth)
    accuracies = study.zoo_accuracies(task_name)
    example, label = task.sample(1, torch.Generator().manual_seed(0), "test")
    _, cache = run.model.run_with_cache(example)
    heads = run.model.cfg.heads
    fig = plt.figure(figsize=(3.0 * max(heads, 3) + 1, 3.3 + 2.6 * depth), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.3, 2.6 * depth])
    left, right = top.subplots(1, 2)
    accuracy_vs_depth(accuracies, task.chance, task_name, ax=left, highlight=depth)
    learning_curve(run.history, label=f"depth {depth}", chance=task.chance, ax=right)
    layer_patterns(cache, tokens=example[0].tolist(), axes=bottom.subplots(depth, heads, squeeze=False))
    source = "trained live" if run.live else "zoo"
    caption = (f"{task_name}, depth {depth} ({source}): test accuracy {run.accuracy:.1%}, chance {task.chance:.1%};\n"
               f"example {' '.join(map(str, example[0].tolist()))} -> label {task.query_labels(label).item()}")
    fig.suptitle(caption, fontsize=9)
    return fig


def depth_explorer(task_name="icqa", depth=2):
    """Depth slider and task selector over the zoo's models; "Train live" trains the shown configuration.
    With no front end (see no_front_end), the view at the starting values, and no widget."""
    if no_front_end():
        return _show(depth_view(task_name, depth))
    task_box = Dropdown(options=list(study.TASK_NAMES), value=task_name, description="task")
    depth_slider = IntSlider(value=depth, min=1, max=4, description="depth")
    train_button = Button(description="Train live", tooltip="train this task at this depth from scratch, here")
    view = Output()

    def show(run=None):
        with view:
            view.clear_output(wait=True)
            _show(depth_view(task_box.value, depth_slider.value, run))

    def train_live(_):
        with view:
            view.clear_output()
            print(f"training {task_box.value} at depth {depth_slider.value} from scratch...")
            run = study.train_run(task_box.value, depth_slider.value, seed=0, progress=True)
        show(run)

    task_box.observe(lambda change: show(), "value")
    depth_slider.observe(lambda change: show(), "value")
    train_button.on_click(train_live)
    show()
    return VBox([HBox([task_box, depth_slider, train_button]), view])


def heads_view(layers=heads_study.LAYERS, heads=heads_study.HEADS):
    """The heads explorer's view as a plain figure, no widgets: the zoo model's excess risk against n beside
    the tuned baselines, and each head's share of its layer's importance (the rise in risk when masked)."""
    run = heads_study.pretrained(layers, heads)
    task, analysis = run.task, run.analysis
    fig = plt.figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.4, 1])
    ns = range(len(analysis.risk_by_n))
    curves = {run.label: (ns, analysis.risk_by_n), **{m: (ns, r) for m, r in run.baselines.items()}}
    risk_vs_n(curves, left, "Excess risk against n (zoo model and tuned baselines)", emphasize=[run.label])
    left.axvspan(task.s, task.d, color="0.9", zorder=0)  # the range n = s..d the course's claims average over
    if heads > 1:
        importance_grid(analysis.shares, right, "Share of each layer's importance, by head")
        pattern = f"top head's share by layer: {' '.join(f'{max(row):.0%}' for row in analysis.shares)}"
    else:
        right.text(0.5, 0.5, "one head per layer:\nno heads to compare", ha="center", va="center")
        right.set_axis_off()
        pattern = "one head per layer"
    m = run.mean_risks()
    fig.suptitle(f"L={layers}, H={heads} (zoo, {run.history.step[-1]} steps): mean risk over n={task.s}..{task.d} "
                 f"{m['transformer']:.3f} (ridge {m['ridge']:.3f}, gd {m['gd']:.3f}, lasso {m['lasso']:.3f}); "
                 f"{pattern}", fontsize=9)
    return fig


def heads_explorer(layers=heads_study.LAYERS, heads=heads_study.HEADS):
    """Sliders for layers (1 to 4) and heads (1, 2, 4, 8) over the zoo's Part II models."""
    return interactive_figure(heads_view,
                              layers=IntSlider(value=layers, min=min(heads_study.ZOO_LAYERS),
                                               max=max(heads_study.ZOO_LAYERS), description="layers"),
                              heads=SelectionSlider(options=heads_study.ZOO_HEADS, value=heads, description="heads"))
