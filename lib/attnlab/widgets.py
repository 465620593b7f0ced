"""Interactive views built from core ipywidgets only (so they render on Colab, Binder and JupyterLab alike)."""
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from ipywidgets import Button, Dropdown, HBox, IntSlider, Output, VBox, interactive

from . import depth as study
from .plots import accuracy_vs_depth, layer_patterns, learning_curve


def interactive_figure(draw, **controls):
    """Like ipywidgets.interactive, for a function that returns a matplotlib figure: each change of a control
    redraws the figure once (interact alone would show it twice: once returned, once by the inline backend).
    The figure's title is also printed as text, for screen readers and for tests."""
    def show(**values):
        fig = draw(**values)
        display(fig)
        print(fig.get_suptitle())
        plt.close(fig)

    return interactive(show, **controls)


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
    caption = (f"{task_name}, depth {depth} ({source}): test accuracy {run.accuracy:.1%}, chance {task.chance:.1%}; "
               f"example {example[0].tolist()} -> label {label.item()}")
    fig.suptitle(caption, fontsize=9)
    return fig


def depth_explorer(task_name="icqa", depth=2):
    """Depth slider and task selector over the zoo's models; "Train live" trains the shown configuration."""
    task_box = Dropdown(options=list(study.TASK_NAMES), value=task_name, description="task")
    depth_slider = IntSlider(value=depth, min=1, max=4, description="depth")
    train_button = Button(description="Train live", tooltip="train this task at this depth from scratch, here")
    view = Output()

    def show(run=None):
        with view:
            view.clear_output(wait=True)
            fig = depth_view(task_box.value, depth_slider.value, run)
            display(fig)
            print(fig.get_suptitle())
            plt.close(fig)

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
