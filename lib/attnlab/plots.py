"""Matplotlib figures used across the course. Each function draws into new axes and returns the figure."""
import matplotlib.pyplot as plt
import torch


def attention_maps(patterns, tokens=None, titles=None, suptitle="Attention patterns"):
    """Draw one heat map per pattern. patterns: a (T, T) tensor or a list of them (query rows, key columns)."""
    if isinstance(patterns, torch.Tensor) and patterns.dim() == 2:
        patterns = [patterns]
    count = len(patterns)
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count + 0.6, 3.4), squeeze=False)
    for i, (ax, pattern) in enumerate(zip(axes[0], patterns)):
        image = ax.imshow(pattern.detach().cpu(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(titles[i] if titles else f"head {i}")
        ax.set_xlabel("key position (attended to)")
        ax.set_ylabel("query position")
        if tokens is not None:
            ax.set_xticks(range(len(tokens)), tokens, fontsize=7)
            ax.set_yticks(range(len(tokens)), tokens, fontsize=7)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="attention weight")
    fig.suptitle(suptitle)
    return fig


def learning_curve(history, label="model", chance=None, metric_name="accuracy", ax=None):
    """The test metric against training steps, with the chance level as a dashed line when given."""
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
    """Why attention divides by sqrt(width): softmax weights of one query over random keys, unscaled and scaled."""
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
