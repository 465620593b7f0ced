"""The explorers in-process (no browser): the plain fallback draws, and moving a control redraws."""
import matplotlib.pyplot as plt
import nbformat
import pytest
from ipywidgets import IntSlider, Output
from nbclient import NotebookClient

from attnlab import depth, heads, plots, widgets
from course import SOLUTIONS, notebooks


def test_interactive_figure_redraws_once_per_change(capsys):
    draws = []

    def softmax_scaling(width):
        draws.append(width)
        return plots.softmax_scaling(width)

    slider = IntSlider(value=16, min=1, max=256)
    view = widgets.interactive_figure(softmax_scaling, width=slider)
    assert view.children[0] is slider and "width d = 16" in view.title.value
    first = bytes(view.image.value)  # ipywidgets 8 holds it as a memoryview
    assert first.startswith(b"\x89PNG")
    slider.value = 40
    assert draws == [16, 40] and "width d = 40" in view.title.value and view.image.value != first
    assert capsys.readouterr().out == "", "a redraw prints nothing: no Output widget has to capture it"
    assert plt.get_fignums() == [], "figures must be closed after they are shown"


def test_the_explorers_use_no_output_widget():
    """Every stall seen was in a cell whose output an Output widget captured (see attnlab/widgets.py)."""
    views = [widgets.interactive_figure(plots.softmax_scaling, width=IntSlider(16)),
             widgets.depth_explorer("icqa", depth=2), widgets.heads_explorer(layers=3, heads=4)]

    def tree(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from tree(child)

    assert not any(isinstance(widget, Output) for view in views for widget in tree(view))


def test_a_failed_move_says_why_in_the_title():
    def draw(width):
        if width > 20:
            raise ValueError("too wide to draw")
        return plots.softmax_scaling(width)

    slider = IntSlider(value=16, min=1, max=64)
    view = widgets.interactive_figure(draw, width=slider)
    picture = view.image.value
    slider.value = 30  # in a callback an error would reach only the kernel's log
    assert view.title.value == "could not draw this view: ValueError: too wide to draw"
    assert view.image.value == picture
    slider.value = 17
    assert "width d = 17" in view.title.value


@pytest.mark.parametrize("task_name", depth.TASK_NAMES)
def test_depth_view_shows_every_layer_and_head(task_name):
    fig = widgets.depth_view(task_name, depth=2)
    heads = depth.RECIPES[task_name].heads
    assert len(fig.axes) == 2 + 2 * heads  # accuracy against depth, learning curve, 2 layers x heads maps
    assert f"{task_name}, depth 2 (zoo)" in fig.get_suptitle()
    plt.close(fig)


def test_a_zoo_picture_is_drawn_once_per_slider_value():
    draws = []

    def view(task_name, depth):
        draws.append((task_name, depth))
        return widgets.depth_view(task_name, depth)

    pictures = widgets.ZooPictures()
    first = pictures.get(view, "icqa", 2)
    assert pictures.get(view, "icqa", 2) == first and draws == [("icqa", 2)]  # back to a value: no redraw
    pictures.get(view, "icqa", 3)
    assert draws == [("icqa", 2), ("icqa", 3)]
    picture, title = first
    assert picture.startswith(b"\x89PNG") and "icqa, depth 2 (zoo)" in title
    assert plt.get_fignums() == []


def test_pictures_drawn_ahead_are_drawn_once_and_a_move_waits_only_for_its_own():
    import threading
    started, release, draws = threading.Event(), threading.Event(), []

    def view(depth):
        draws.append(depth)
        if depth == 2:  # the background thread is held on this picture
            started.set()
            release.wait(10)
        return widgets.depth_view("icqa", depth)

    pictures = widgets.ZooPictures()
    thread = pictures.draw_ahead(view, [(2,), (3,)])
    assert started.wait(10)
    assert "depth 1" in pictures.get(view, 1)[1]  # not held up by the picture being drawn behind it
    release.set()
    assert "depth 2" in pictures.get(view, 2)[1]  # waited for the background drawing, did not draw it again
    thread.join(10)
    assert sorted(draws) == [1, 2, 3] and pictures.get(view, 3)[1].startswith("icqa, depth 3")
    assert widgets.nearest_first([(1,), (2,), (3,), (4,)], (3,)) in ([(2,), (4,), (1,)], [(4,), (2,), (1,)])


def test_depth_explorer_follows_its_controls():
    explorer = widgets.depth_explorer("icqa", depth=2)
    task_box, depth_slider, train_button = explorer.children[0].children
    assert explorer.title.value.startswith("icqa, depth 2 (zoo)")
    assert "<br>example " in explorer.title.value  # the caption's second line, as a line of its own
    depth_slider.value = 1
    assert explorer.title.value.startswith("icqa, depth 1 (zoo)")
    task_box.value = "template"
    assert explorer.title.value.startswith("template, depth 1 (zoo)")
    assert (depth_slider.min, depth_slider.max) == (1, 4)
    assert plt.get_fignums() == []


def test_train_live_shows_the_model_it_trained():
    explorer = widgets.depth_explorer("memorization", depth=2)  # memorization trains in about a second
    train_button = explorer.children[0].children[2]
    zoo_picture = explorer.image.value
    titles = []
    explorer.title.observe(lambda change: titles.append(change.new), "value")
    train_button.click()
    assert titles[0] == "training memorization at depth 2 from scratch..."
    assert explorer.title.value.startswith("memorization, depth 2 (trained live)")
    assert explorer.image.value != zoo_picture and not train_button.disabled


def test_widgets_use_only_core_ipywidgets():
    """Colab renders core ipywidgets only: no third-party widget library may creep in."""
    import ast
    import inspect
    import sys

    tree = ast.parse(inspect.getsource(widgets))
    imported = {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    imported |= {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    third_party = imported - set(sys.stdlib_module_names)
    assert third_party <= {"ipywidgets", "IPython", "matplotlib", "torch"}, third_party


@pytest.mark.parametrize("layers, heads_count", [(1, 1), (3, 4), (4, 8)])
def test_heads_view_draws_the_zoo_models_risk_and_head_shares(layers, heads_count):
    fig = widgets.heads_view(layers, heads_count)
    caption = fig.get_suptitle()
    assert caption.startswith(f"L={layers}, H={heads_count} (zoo")
    risk_axes = fig.axes[0]
    assert len(risk_axes.get_lines()) == 1 + len(heads.METHODS)  # the transformer and every baseline
    assert ("one head per layer" in caption) == (heads_count == 1)
    if heads_count > 1:
        assert len(fig.axes[1].texts) == layers * heads_count  # every head's share is written in
    plt.close(fig)


def test_heads_explorer_follows_its_sliders():
    explorer = widgets.heads_explorer(layers=3, heads=4)
    layers_slider, heads_slider = explorer.children[:2]
    assert explorer.title.value.startswith("L=3, H=4 (zoo")
    heads_slider.value = 1
    assert explorer.title.value.startswith("L=3, H=1 (zoo")
    layers_slider.value = 2
    assert explorer.title.value.startswith("L=2, H=1 (zoo")
    assert heads_slider.options == heads.ZOO_HEADS and (layers_slider.min, layers_slider.max) == (1, 4)
    assert plt.get_fignums() == []


def test_heads_view_refuses_a_shape_outside_the_zoo():
    with pytest.raises(ValueError, match="the zoo has layers in"):
        widgets.heads_view(5, 4)


@pytest.mark.parametrize("variable, value", [("NBGRADER_EXECUTION", "autograde"), ("ATTNLAB_NO_FRONT_END", "1")])
def test_with_no_front_end_the_explorers_draw_a_plain_figure_and_no_widget(capsys, monkeypatch, variable, value):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not widgets.no_front_end()
    monkeypatch.setenv(variable, value)
    slider = IntSlider(value=16, min=1, max=256)
    assert widgets.interactive_figure(plots.softmax_scaling, width=slider) is None
    assert "width d = 16" in capsys.readouterr().out
    assert widgets.depth_explorer("icqa", depth=2) is None
    assert "icqa, depth 2 (zoo)" in capsys.readouterr().out
    assert widgets.heads_explorer(layers=3, heads=4) is None
    assert "L=3, H=4" in capsys.readouterr().out
    assert plt.get_fignums() == []


WIDGET_NOTEBOOKS = [path for path in notebooks(SOLUTIONS) if "widgets" in path.read_text()]


@pytest.mark.parametrize("path", WIDGET_NOTEBOOKS, ids=lambda p: p.name)
def test_widget_notebooks_never_stall_under_grading(path, monkeypatch):
    """Under grading the explorers show plain figures, which the feedback shows as they are; the notebooks run
    to the end well within nbgrader's timeout. (tests/test_no_stall.py runs them with live widgets.)"""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("ATTNLAB_PROGRESS", "0")
    nb = nbformat.read(path, 4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [output for cell in nb.cells if "widgets" in cell.source for output in cell.get("outputs", [])]
    assert not any("application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in outputs), \
        "a live widget under grading"
    assert any("image/png" in output.get("data", {}) for output in outputs), "no plain figure under grading"


def test_a_view_called_on_its_own_shows_as_a_picture():
    """I.5 ends a cell with depth_view(...): Jupyter must show a picture, not the text <Figure size ...>."""
    from IPython.core.formatters import PNGFormatter

    png = PNGFormatter()(widgets.depth_view("icqa", depth=2))
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
