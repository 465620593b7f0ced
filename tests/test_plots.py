"""The course's figures draw what they say: titles, and one box per part of the model in the diagram."""
import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyBboxPatch

from attnlab import plots


@pytest.mark.parametrize("depth, mlp", [(1, False), (2, False), (3, True)])
def test_the_diagram_has_a_box_for_every_part_of_the_model(depth, mlp):
    fig = plots.transformer_diagram(depth, mlp)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == 2 + depth * (2 if mlp else 1)  # embeddings, each attention (and MLP), the read-out
    texts = [t.get_text() for t in ax.texts]
    assert sum("attention (layer" in t for t in texts) == depth and any("residual stream" in t for t in texts)
    assert f"{depth}-layer" in ax.get_title()
    plt.close(fig)


def test_risk_against_n_ticks_whole_numbers_of_examples():
    fig = plots.risk_vs_n({"ridge": (range(5), [1.0, 0.8, 0.5, 0.3, 0.1])})
    ticks = [t for t in fig.axes[0].get_xticks() if 0 <= t <= 4]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    plt.close(fig)


def test_a_method_keeps_its_colour_in_every_figure():
    curves = {"ridge": ([0, 1], [1.0, 0.5]), "your gd": ([0, 1], [1.0, 0.6]), "gd, k=10": ([0, 1], [1.0, 0.7]),
              "linear L=3 H=8": ([0, 1], [1.0, 0.3])}
    lines = {line.get_label(): line.get_color() for line in plots.risk_vs_n(curves).axes[0].lines}
    assert lines["your gd"] == lines["gd, k=10"] == plots.METHOD_COLORS["gd"] != lines["ridge"]
    probe = plots.probe_beside_optimizers({"linear L=3 H=8": [1.0, 0.5]}, {"gd": ([0, 1], [1.0, 0.6])})
    colours = {line.get_label(): line.get_color() for line in probe.axes[0].lines}
    assert colours["gd after k steps"] == lines["your gd"]
    assert colours["probe after l layers: linear L=3 H=8"] == lines["linear L=3 H=8"]
    assert plots.method_color("trained here") is None
