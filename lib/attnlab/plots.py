"""Matplotlib figures used across the course. Each function draws into new axes and returns the figure."""
import re

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

# One colour per method in every figure of the course, a student's own version of a method included ("your gd").
METHOD_COLORS = {"ridge": "tab:blue", "gd": "tab:orange", "lasso": "tab:green", "oracle": "tab:gray",
                 "preprocess_gd": "tab:purple", "construction": "tab:brown", "linear": "tab:red", "softmax": "tab:pink"}


def method_color(label):
    """The course's colour for a curve: that of the first method its label names ("your gd", "gd, k=10",
    "linear L=3 H=8" for a linear-attention transformer), or None (matplotlib's next colour) if it names none."""
    return next((METHOD_COLORS[word] for word in re.findall(r"[a-z_]+", label.lower()) if word in METHOD_COLORS),
                None)


def attention_maps(patterns, tokens=None, titles=None, suptitle="Attention patterns"):
    """Draw one heat map per pattern. patterns: a (T, T) tensor or a list of them (query rows, key columns).

    Notebooks: 0.1"""
    if isinstance(patterns, torch.Tensor) and patterns.dim() == 2:
        patterns = [patterns]
    count = len(patterns)
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count + 0.6, 3.4), squeeze=False)
    for i, (ax, pattern) in enumerate(zip(axes[0], patterns)):
        image = ax.imshow(pattern.detach().cpu(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(titles[i] if titles else f"head {i}")
        ax.set_xlabel("key position (attended to)" if tokens is None else "key (its token)")
        ax.set_ylabel("query position" if tokens is None else "query (its token)")
        if tokens is not None:
            ax.set_xticks(range(len(tokens)), tokens, fontsize=7)
            ax.set_yticks(range(len(tokens)), tokens, fontsize=7)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="attention weight")
    fig.suptitle(suptitle)
    return fig


def transformer_diagram(depth=2, mlp=False):
    """The course's transformer as a picture: embeddings in, the residual stream up through `depth` pre-norm
    blocks, each reading the stream through a layer norm and adding its attention (and MLP) output back, then a
    final layer norm and the read-out. Drawn by code, so it follows the model: see attnlab.model.

    Notebooks: 0.1"""
    from matplotlib.patches import FancyBboxPatch

    rows = 2 + depth * (2 if mlp else 1)
    fig, ax = plt.subplots(figsize=(7.6, 0.9 + 0.8 * rows))
    ax.set_xlim(0, 10.4)
    ax.set_ylim(-0.75, rows - 0.2)
    ax.set_axis_off()

    def box(x, y, text, color, width):
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.25), width, 0.5, boxstyle="round,pad=0.04", fc=color,
                                    ec="0.3"))
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5)

    def arrow(start, end):
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="0.35", lw=1.2))

    stream_x, side_x, side_width = 2.6, 7.5, 5.0  # the residual stream, and what reads and writes it
    box(stream_x, 0, "token + position embedding", "#dbe9f6", 4.2)
    ax.text(stream_x, -0.55, "tokens (or vectors) in", ha="center", va="center", fontsize=8)
    y = 0
    for layer in range(depth):
        for part in ["attention"] + (["MLP"] if mlp else []):
            y += 1
            label = f"layer norm, then {part}" + (f" (layer {layer + 1})" if part == "attention" else "")
            box(side_x, y, label, "#fde2c8" if part == "attention" else "#e2f0d9", side_width)
            arrow((stream_x, y - 0.45), (side_x - side_width / 2, y - 0.1))  # the block reads the stream...
            arrow((side_x - side_width / 2, y + 0.1), (stream_x + 0.17, y + 0.32))  # ...and adds its output back
            ax.text(stream_x, y + 0.32, "+", ha="center", va="center", fontsize=11, zorder=3,
                    bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec="0.3"))
    y += 1
    box(stream_x, y, "layer norm, then read-out", "#e8def8", 4.2)
    ax.plot([stream_x, stream_x], [0.25, y - 0.25], color="0.3", lw=2.5, zorder=0)
    ax.text(stream_x - 0.3, y / 2, "residual stream", rotation=90, ha="right", va="center", fontsize=9, color="0.3")
    ax.text(stream_x, y + 0.5, "an output at every position", ha="center", va="center", fontsize=8)
    ax.set_title(f"A {depth}-layer {'transformer' if mlp else 'attention-only transformer'}: every layer adds to "
                 "one stream", fontsize=10)
    return fig


def learning_curve(history, label="model", chance=None, metric_name="accuracy", ax=None):
    """The test metric against training steps, with the chance level as a dashed line when given.

    Notebooks: 0.1, I.4, II.2"""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(history.step, history.metric, marker=".", label=label)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", label="chance")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"test {metric_name}")
    ax.set_title(f"Learning curve: {metric_name}")
    ax.legend()
    return fig or ax.figure


def softmax_scaling(width=16, keys=8, seed=0):
    """Why attention divides by sqrt(width): softmax weights of one query over random keys, unscaled and scaled.

    Notebooks: 0.1"""
    generator = torch.Generator().manual_seed(seed)
    query, key_vectors = torch.randn(width, generator=generator), torch.randn(keys, width, generator=generator)
    scores = key_vectors @ query
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    for ax, (name, divisor) in zip(axes, [("softmax(q·k)", 1.0), ("softmax(q·k / √d)", width ** 0.5)]):
        weights = (scores / divisor).softmax(0)
        ax.bar(range(keys), weights, color="tab:blue", label=f"largest weight {weights.max():.2f}")
        ax.set_title(name)
        ax.set_xlabel("key")
        ax.legend(loc="upper right")
    axes[0].set_ylabel("attention weight")
    axes[0].set_ylim(0, 1.05)
    fig.suptitle(f"One query over {keys} random keys, width d = {width}")
    fig.tight_layout()
    return fig


def accuracy_vs_depth(accuracies, chance, task_name, ax=None, highlight=None):
    """accuracies: {depth: accuracy or list of accuracies over seeds}. Points (mean, with every seed shown
    faintly), the chance level dashed, and the depth `highlight` ringed.

    Notebooks: I.1, I.2, I.3, I.4"""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 3.4))
    depths = sorted(accuracies)
    runs = [accuracies[d] if isinstance(accuracies[d], (list, tuple)) else [accuracies[d]] for d in depths]
    means = [sum(r) / len(r) for r in runs]
    for depth, r in zip(depths, runs):
        ax.scatter([depth] * len(r), r, color="tab:blue", alpha=0.3, s=14)
    ax.plot(depths, means, marker="o", color="tab:blue", label="test accuracy")
    if highlight in accuracies:
        ax.scatter([highlight], [means[depths.index(highlight)]], s=180, facecolors="none", edgecolors="tab:red",
                   linewidths=2, label=f"depth {highlight}")
    ax.axhline(chance, color="gray", linestyle="--", label=f"chance ({chance:.0%})")
    ax.set_xticks(depths)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("depth (attention layers)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{task_name}: accuracy against depth")
    ax.legend(loc="lower right", fontsize=8)
    return fig or ax.figure


def depth_study(by_task):
    """by_task: {task name: ({depth: [accuracy per seed]}, chance)}. One accuracy_vs_depth panel per task, side
    by side, on a pyplot-free Figure (it draws headless, in a script, and shows in a notebook)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6 * len(by_task), 3.6), layout="constrained")
    for ax, (task, (accuracies, chance)) in zip(fig.subplots(1, len(by_task), sharey=True, squeeze=False)[0],
                                                by_task.items()):
        accuracy_vs_depth(accuracies, chance, task.replace("_", " "), ax=ax)
    fig.suptitle("What depth buys: accuracy of attention-only transformers against depth")
    return fig


def layer_patterns(cache, tokens=None, example=0, axes=None, suptitle="Attention patterns, every layer and head"):
    """Every layer's and head's attention pattern for one example of a run_with_cache batch: a grid of
    layers (rows) by heads (columns), numbered from 1 as in the prose.

    Notebooks: I.1, I.2, I.3, I.4"""
    patterns = [p[example].detach().cpu() for p in cache["pattern"]]  # each (H, T, T)
    layers, heads = len(patterns), patterns[0].shape[0]
    fig = None
    if axes is None:
        fig, axes = plt.subplots(layers, heads, figsize=(3.0 * heads + 0.5, 2.9 * layers), squeeze=False)
    labels = None if tokens is None else [str(t) for t in tokens]
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer][head]
            ax.imshow(patterns[layer][head], cmap="Blues", vmin=0, vmax=1)
            ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
            if labels:
                ax.set_xticks(range(len(labels)), labels, fontsize=6)
                ax.set_yticks(range(len(labels)), labels, fontsize=6)
            ax.set_xlabel("key" if labels is None else "key (its token)", fontsize=8)
            ax.set_ylabel("query" if labels is None else "query (its token)", fontsize=8)
    if fig is not None:
        fig.suptitle(suptitle)
        fig.tight_layout()
    return fig or axes[0][0].figure


def risk_vs_n(curves, ax=None, title="Excess risk against the number of examples", emphasize=()):
    """curves: {label: (n values, risks)}. One line per label on a log scale; labels in `emphasize` (the
    transformers) are drawn thick with markers, the baselines thin.

    Notebooks: II.1, II.2, II.4"""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    for label, (ns, risks) in curves.items():
        strong = label in emphasize
        ax.plot(list(ns), [float(r) for r in risks], marker="o" if strong else ".", lw=2.5 if strong else 1.2,
                color=method_color(label), linestyle="--" if label.startswith("your ") else "-", label=label)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # n counts examples: no tick at 0.5
    ax.set_xlabel("number of in-context examples n")
    ax.set_ylabel("excess risk")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig or ax.figure


def importance_grid(shares, ax=None, title="Each head's share of its layer's importance"):
    """shares: (layers, heads), rows summing to 1 (see analysis.importance_shares). A heat map with the
    numbers written in; layers and heads are numbered from 1 as in the prose.

    Notebooks: II.3, II.5"""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 3.4))
    shares = torch.as_tensor(shares, dtype=torch.float32)
    layers, heads = shares.shape
    image = ax.imshow(shares.numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for layer in range(layers):
        for head in range(heads):
            ax.text(head, layer, f"{shares[layer, head]:.2f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(heads), [str(h + 1) for h in range(heads)])
    ax.set_yticks(range(layers), [str(layer + 1) for layer in range(layers)])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(image, ax=ax, label="share of the layer's importance")
    return fig or ax.figure


def importance_grids(shares_by_label, suptitle, columns=5):
    """shares_by_label: {label (a seed, a model): (layers, heads) shares}. One importance_grid per label, in rows
    of `columns`.

    Notebooks: II.3"""
    columns = min(columns, len(shares_by_label))
    rows = -(-len(shares_by_label) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.2 * rows), squeeze=False, layout="constrained")
    for ax, (label, shares) in zip(axes.flat, shares_by_label.items()):
        importance_grid(shares, ax, label)
    for ax in list(axes.flat)[len(shares_by_label):]:
        ax.set_axis_off()
    fig.suptitle(suptitle, fontsize=10)
    return fig


def pruning_bars(risks, ax=None, title="Pruning: keep all of layer 1 and the top head of each later layer",
                 ylabel="mean excess risk"):
    """risks: {group label (a seed, a model): {variant: risk}}. Grouped bars, one group per variant.

    Notebooks: II.3"""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4))
    variants = list(dict.fromkeys(v for by_variant in risks.values() for v in by_variant))
    width = 0.8 / max(1, len(risks))
    for i, (label, by_variant) in enumerate(risks.items()):
        ax.bar([j + i * width for j in range(len(variants))], [by_variant.get(v, float("nan")) for v in variants],
               width=width, label=str(label))
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(variants))], [v.replace("_", " ") for v in variants],
                  fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return fig or ax.figure


def probe_beside_optimizers(probes, references=None, ax=None, n=None,
                            title="Layer-wise probing beside k steps of an optimizer"):
    """probes: {label: risk entering each layer (the last reads the output)}; references: {method: (ks, risks)}.
    Both on one log axis whose x is the layer l or the number of steps k.

    Notebooks: II.3, II.5"""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    for label, risks in probes.items():
        ax.plot(range(len(risks)), risks, marker="o", lw=2, color=method_color(label),
                label=f"probe after l layers: {label}")
    for method, (ks, risks) in (references or {}).items():
        ax.plot(ks, risks, "--", color=method_color(method), marker=".", label=f"{method} after k steps")
    ax.set_yscale("log")
    ax.set_xlabel("layers l / optimizer steps k")
    ax.set_ylabel("excess risk" + ("" if n is None else f" at n = {n}"))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return fig or ax.figure
