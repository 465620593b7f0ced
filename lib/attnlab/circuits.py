"""Tools to build a transformer's weights by hand: a named layout of the residual stream, a blank model
that embeds tokens and positions as one-hot vectors, and write access to one head's matrices.

The circuits themselves are the student's to write (Part I, in-context question answering).
"""
from types import SimpleNamespace

import torch

from .model import Config, Transformer


def residual_layout(**sizes):
    """Consecutive slices of the residual stream, by name: residual_layout(token=16, position=9) gives
    {"token": slice(0, 16), "position": slice(16, 25)}.

    Notebooks: I.2"""
    if not sizes or any(not isinstance(n, int) or n < 1 for n in sizes.values()):
        raise ValueError(f"give each part of the residual stream a size of at least 1, got {sizes}")
    layout, start = {}, 0
    for name, size in sizes.items():
        layout[name] = slice(start, start + size)
        start += size
    return layout


@torch.no_grad()
def blank_model(vocab_size, seq_len, output_dim, layout, depth=2, heads=1, width=None):
    """An attention-only model without layer norm whose weights are all zero, except that token t is
    written as a one-hot vector into layout["token"], position i into layout["position"], and the
    output logits read layout["out"] one-to-one.

    Notebooks: I.2"""
    for part, size in (("token", vocab_size), ("position", seq_len), ("out", output_dim)):
        if part not in layout or layout[part].stop - layout[part].start != size:
            raise ValueError(f"layout needs a part {part!r} of size {size}, got {layout.get(part)}")
    needed = max(s.stop for s in layout.values())
    width = width or needed
    if width < needed:
        raise ValueError(f"width must hold the whole layout ({needed}), got {width}")
    model = Transformer(Config(max_len=seq_len, vocab_size=vocab_size, output_dim=output_dim, width=width,
                               depth=depth, heads=heads, mlp=False, layer_norm=False))
    for parameter in model.parameters():
        parameter.zero_()
    model.embed.weight[:, layout["token"]] = torch.eye(vocab_size)
    model.pos.weight[:, layout["position"]] = torch.eye(seq_len)
    model.unembed.weight[:, layout["out"]] = torch.eye(output_dim)
    return model.eval()


def head_weights(model, layer, head=0):
    """Views of one head's weights, to read or write in place (under torch.no_grad()):
    W_Q, W_K, W_V of shape (D, C) map the residual stream (C) to the head's query, key, value (D);
    W_O of shape (C, D) writes the head's output back. Scores are q.k / sqrt(D) before the softmax.

    Notebooks: I.2, II.5"""
    cfg = model.cfg
    if not 0 <= layer < cfg.depth or not 0 <= head < cfg.heads:
        raise ValueError(f"layer must be in [0, {cfg.depth}) and head in [0, {cfg.heads}), got {layer}, {head}")
    C, D = cfg.width, cfg.width // cfg.heads
    attention = model.blocks[layer].attn
    rows = slice(head * D, (head + 1) * D)
    W_Q, W_K, W_V = (attention.qkv.weight[i * C:(i + 1) * C][rows] for i in range(3))
    return SimpleNamespace(W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=attention.out.weight[:, rows])
