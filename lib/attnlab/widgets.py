"""Interactive views built from core ipywidgets only (so they render on Colab, Binder and JupyterLab alike).

A view is a picture and its title held as widget values: the PNG in an `Image`, the title's text in an `HTML`
below it (for screen readers and tests), redrawn by the controls' `.observe` callbacks. A redraw prints and
displays nothing, so no `Output` widget captures output while a cell runs. nbclient (under `jupyter nbconvert
--execute` and nbgrader) plays an Output widget's part itself, sending the busy kernel messages of its own, and
every stall seen (a cell that waited out nbclient's whole timeout, four times) was in a cell whose output an
Output widget captured. An Image's value is only state, which nbclient records.

A slider move redraws one picture: each view draws on a plain matplotlib Figure with a fixed layout (no layout
engine, no pyplot figure manager). A view of zoo models is drawn once per process, and an explorer draws the
values a student may move to next in a background thread while the student reads the first (see ZooPictures).
"""
import html
import io
import os
import threading

import matplotlib.pyplot as plt
import torch
from IPython.display import Image as PlainImage, display
from ipywidgets import HTML, Button, Dropdown, HBox, Image, IntSlider, SelectionSlider, VBox
from matplotlib.figure import Figure

from . import depth as study
from . import heads as heads_study
from .check import autograding
from .plots import accuracy_vs_depth, importance_grid, layer_patterns, learning_curve, risk_vs_n


def _png(fig):
    """The figure as PNG bytes, rendered once, and freed. (Displaying the figure itself would render it with a
    tight bounding box: a second layout pass, slower on every slider move.)"""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    if fig.canvas.manager is not None:  # a pyplot figure; the views' plain Figures are simply dropped
        plt.close(fig)
    return buffer.getvalue()


class ViewFigure(Figure):
    """A plain matplotlib Figure (no pyplot, whose figures the draw-ahead thread must not touch) that Jupyter
    shows as a picture when it is a cell's value: a view called on its own, as a static page would."""

    def _repr_png_(self):
        return _png(self)


def _picture(fig):
    """(PNG, title) of a figure: what a view shows."""
    return _png(fig), fig.get_suptitle()


class ZooPictures:
    """(PNG, title) of views of zoo models. The same arguments always draw the same picture, so each is drawn
    once per process: a slider moved back to a value it has shown costs nothing. `draw_ahead` draws a list of
    them in a background thread, so that a slider's first move to a value usually finds its picture ready (a
    move asks only for its own picture, and waits only if that one is being drawn). The thread only fills the
    cache: widgets are changed by the kernel's own thread alone."""

    def __init__(self):
        self._pictures, self._locks, self._guard = {}, {}, threading.Lock()

    def get(self, view, *args):
        key = (view, args)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one drawing per picture, whichever thread asks first
            if key not in self._pictures:
                self._pictures[key] = _picture(view(*args))
            return self._pictures[key]

    def draw_ahead(self, view, arguments):
        """Draw view(*args) for every args in `arguments`, in that order, in a daemon thread (returned)."""
        def draw_all():
            for args in arguments:
                try:
                    self.get(view, *args)
                except Exception:  # noqa: BLE001 - e.g. a zoo model not built: the move to it will say why
                    return
        thread = threading.Thread(target=draw_all, name="attnlab-draw-ahead", daemon=True)
        thread.start()
        return thread

    def clear(self):
        with self._guard:
            self._pictures.clear()
            self._locks.clear()


zoo_pictures = ZooPictures()


def nearest_first(values, current):
    """The slider values other than `current`, nearest to it first: the order a student is likely to visit them."""
    return sorted((v for v in values if v != current), key=lambda v: sum(abs(a - b) for a, b in zip(v, current)))


class PictureView(VBox):
    """Controls, then a picture and its title, as widgets: `image` (an Image of the PNG) and `title` (HTML)."""

    def __init__(self, controls):
        self.image, self.title = Image(format="png"), HTML()
        super().__init__([*controls, self.image, self.title])

    def show(self, picture, title):
        self.image.value = picture
        self.title.value = html.escape(title).replace("\n", "<br>")

    def redraw(self, draw):
        """Show draw()'s (PNG, title), or say in the title why it failed: an error raised in a widget callback
        reaches only the kernel's log, which a student never sees."""
        try:
            self.show(*draw())
        except Exception as error:  # noqa: BLE001 - shown to the student instead
            self.title.value = html.escape(f"could not draw this view: {type(error).__name__}: {error}")


def no_front_end():
    """True under nbgrader's autograding ($NBGRADER_EXECUTION is set) or in a run that asks for it
    ($ATTNLAB_NO_FRONT_END=1, as the course website's build does). Explorers then show their view at the starting
    values as a plain figure with its title printed, and no widget. Not for fear of a stall (see the module's
    doc): nobody moves a slider there, and a widget's picture lives in widget state, which feedback files and
    static pages show only through a widget manager's JavaScript, while a plain figure is the cell's own output."""
    return autograding() or os.environ.get("ATTNLAB_NO_FRONT_END") == "1"


def _show_plain(picture, title):
    display(PlainImage(picture))
    print(title)


def _explore(picture, controls):
    """A PictureView of picture(**values of the controls), redrawn on every change of a control; with no front
    end (see no_front_end), the plain picture at the controls' starting values."""
    def current():
        return picture(**{name: control.value for name, control in controls.items()})

    if no_front_end():
        return _show_plain(*current())
    view = PictureView(controls.values())
    view.show(*current())  # not redraw: an error while the cell runs is shown by the notebook, as any other
    for control in controls.values():
        control.observe(lambda change: view.redraw(current), "value")
    return view


def interactive_figure(draw, **controls):
    """Controls (name: widget, e.g. width=IntSlider(...)) over a function that returns a matplotlib figure:
    each change of a control redraws draw(**values) once. With no front end, the figure and no widget.

    Notebooks: 0.1"""
    return _explore(lambda **values: _picture(draw(**values)), controls)


def interactive_picture(view, **controls):
    """interactive_figure for a view of zoo models (see ZooPictures): each picture is drawn once per process;
    the controls are passed to the view by position, in their order."""
    return _explore(lambda **values: zoo_pictures.get(view, *values.values()), controls)


def depth_view(task_name="icqa", depth=2, run=None):
    """The depth explorer's view as a plain figure, no widgets (for grading, tests and static pages):
    accuracy against depth, the learning curve, and every layer's attention on one test example.
    run: a live `depth.Run` to show instead of the zoo's model at this depth.

    Notebooks: I.5"""
    task = study.make_task(task_name)
    run = run or study.pretrained_run(task_name, depth)
    example, label = task.sample(1, torch.Generator().manual_seed(0), "test")
    _, cache = run.model.run_with_cache(example)
    heads = run.model.cfg.heads
    rows, columns = (1, depth) if heads == 1 else (depth, heads)  # one head per layer: the layers side by side
    width, height = max(10.0, 2.9 * columns + 1.0), 4.4 + 2.9 * rows
    fig = ViewFigure(figsize=(width, height))
    outer = fig.add_gridspec(2, 1, height_ratios=[3.0, 2.9 * rows], left=0.07, right=0.97, bottom=0.55 / height,
                             top=1 - 0.95 / height, hspace=0.35)
    left, right = (fig.add_subplot(cell) for cell in outer[0].subgridspec(1, 2, wspace=0.25))
    accuracy_vs_depth(study.zoo_accuracies(task_name), task.chance, task_name, ax=left, highlight=depth)
    learning_curve(run.history, label=f"depth {depth}", chance=task.chance, ax=right)
    grid = outer[1].subgridspec(rows, columns, wspace=0.35, hspace=0.45)
    maps = [[fig.add_subplot(grid[(layer, head) if heads > 1 else (0, layer)]) for head in range(heads)]
            for layer in range(depth)]
    tokens = example[0].tolist()
    layer_patterns(cache, tokens=tokens if len(tokens) <= 16 else None, axes=maps)  # longer: the caption has them
    if heads == 1:  # the maps side by side share their query axis: label it once (fewer labels, a faster draw)
        for row in maps[1:]:
            row[0].tick_params(labelleft=False)
            row[0].set_ylabel("")
    source = "trained live" if run.live else "zoo"
    caption = (f"{task_name}, depth {depth} ({source}): test accuracy {run.accuracy:.1%}, chance {task.chance:.1%};\n"
               f"example {' '.join(map(str, tokens))} -> label {task.query_labels(label).item()}")
    fig.suptitle(caption, fontsize=9)
    return fig


def depth_explorer(task_name="icqa", depth=2):
    """Depth slider and task selector over the zoo's models; "Train live" trains the shown configuration.
    With no front end (see no_front_end), the view at the starting values, and no widget.

    Notebooks: I.5"""
    if no_front_end():
        return _show_plain(*zoo_pictures.get(depth_view, task_name, depth))
    task_box = Dropdown(options=list(study.TASK_NAMES), value=task_name, description="task")
    depth_slider = IntSlider(value=depth, min=1, max=4, description="depth")
    train_button = Button(description="Train live", tooltip="train this task at this depth from scratch, here")
    view = PictureView([HBox([task_box, depth_slider, train_button])])

    def zoo_picture():
        return zoo_pictures.get(depth_view, task_box.value, depth_slider.value)

    def draw_task_ahead():
        depths = nearest_first([(d,) for d in study.DEPTHS], (depth_slider.value,))
        zoo_pictures.draw_ahead(depth_view, [(task_box.value, d) for d, in depths])

    def show_task(change):
        view.redraw(zoo_picture)
        draw_task_ahead()

    def train_live(button):
        task, layers = task_box.value, depth_slider.value
        button.disabled = True  # one training at a time
        view.title.value = f"training {task} at depth {layers} from scratch..."
        # No progress bar: it would be displayed, and only an Output widget could show it (see the module's doc).
        view.redraw(lambda: _picture(depth_view(task, layers, study.train_run(task, layers, progress=False))))
        button.disabled = False

    view.show(*zoo_picture())  # not redraw: an error while the cell runs is shown by the notebook, as any other
    draw_task_ahead()
    task_box.observe(show_task, "value")
    depth_slider.observe(lambda change: view.redraw(zoo_picture), "value")
    train_button.on_click(train_live)
    return view


def heads_view(layers=heads_study.LAYERS, heads=heads_study.HEADS):
    """The heads explorer's view as a plain figure, no widgets: the zoo model's excess risk against n beside
    the tuned baselines, and each head's share of its layer's importance (the rise in risk when masked)."""
    run = heads_study.pretrained(layers, heads)
    task, analysis = run.task, run.analysis
    fig = ViewFigure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2, width_ratios=[1.4, 1], gridspec_kw=dict(left=0.07, right=0.95, bottom=0.13,
                                                                              top=0.86, wspace=0.25))
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
    """Sliders for layers (1 to 4) and heads (1, 2, 4, 8) over the zoo's Part II models.

    Notebooks: II.2"""
    layer_slider = IntSlider(value=layers, min=min(heads_study.ZOO_LAYERS), max=max(heads_study.ZOO_LAYERS),
                             description="layers")
    head_slider = SelectionSlider(options=heads_study.ZOO_HEADS, value=heads, description="heads")
    explorer = interactive_picture(heads_view, layers=layer_slider, heads=head_slider)
    if not no_front_end() and layers in heads_study.ZOO_LAYERS and heads in heads_study.ZOO_HEADS:
        # positions on the sliders, so that "nearest" counts slider steps
        grid = [(i, j) for i in range(len(heads_study.ZOO_LAYERS)) for j in range(len(heads_study.ZOO_HEADS))]
        here = (heads_study.ZOO_LAYERS.index(layers), heads_study.ZOO_HEADS.index(heads))
        zoo_pictures.draw_ahead(heads_view, [(heads_study.ZOO_LAYERS[i], heads_study.ZOO_HEADS[j])
                                             for i, j in nearest_first(grid, here)])
    return explorer
