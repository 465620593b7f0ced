"""Preprocess-then-optimize written into the weights of a linear-attention transformer.

`build(d, steps, lr, beta)` returns a `Transformer` whose output at every query is exactly
`baselines.correlation_gd(X, y, x_query, steps, lr, beta)`:

    c = X^T y / n                                   preprocess: each coordinate's correlation with y
    w_0 = 0,  w_t+1 = w_t + lr * (1 + beta c^2) * X^T (y - X w_t) / n      optimize: `steps` gradient steps
    predict <w_steps, x_q>

It reads the joint tokens of `attnlab.tasks.regression`, [x_i, y_i, 1] then [x_q, 0, 0], with linear attention,
full context and private queries (every token sees every example, no token sees a query), and no layer norm or
positions. Its residual stream has three parts, by name (see `LAYOUT`): x (d numbers), r (1) and xt (d).

- Read-in: x into x, y into r. At an example, r will hold its residual y_i - <w_t, x_i>; at the query, which
  starts at 0 and which no token sees, it holds -<w_t, x_q>. The read-out returns -r.
- Layer 1, one head per coordinate j (`preprocess_head`): score x_ij * y_k, value x_kj. Averaged over the
  examples k this writes x_ij * c_j into xt_j: the reweighting needs one score per coordinate, so d heads.
- Each later layer, one head (`gradient_step_head`): score <x_i, x_k> + beta <xt_i, xt_k> = x_i^T P x_k with
  P = diag(1 + beta c^2), value r_k. Writing -lr times the average into r is one gradient step for every token
  at once (von Oswald et al., 2023, with a preconditioner). The layer's other heads stay zero.

So paper B's head pattern (all heads in the first layer, one in each later layer) holds by design. Whether the
algorithm is any good is a separate question: the notebook Part II.5 measures it.
"""
import math

import torch

from .circuits import head_weights, residual_layout
from .model import Config, Transformer


def layout(d):
    """The residual stream's parts: {"x": slice, "r": slice, "xt": slice}.

    Notebooks: II.5"""
    return residual_layout(x=d, r=1, xt=d)


def head_size(d):
    """Width of one head: a gradient-step head reads x and xt (2d numbers); the stream needs 2d + 1 in all."""
    return max(2 * d, math.ceil((2 * d + 1) / d))


def blank(d, steps, max_len=64, dtype=torch.float32):
    """A zero linear-attention transformer of the construction's shape: 1 + steps layers of d heads.

    Notebooks: II.5"""
    if d < 1 or steps < 0:
        raise ValueError(f"need d >= 1 and steps >= 0, got d={d}, steps={steps}")
    cfg = Config(max_len=max_len, output_dim=1, input_dim=d + 2, width=d * head_size(d), depth=1 + steps, heads=d,
                 mlp=False, layer_norm=False, causal=False, private_queries=True, attention="linear")
    model = Transformer(cfg).to(dtype)  # the dtype first: the weights below are exact in it
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    return model.eval()


@torch.no_grad()
def preprocess_head(model, j):
    """Layer 1, head j: token i's output is the average over examples k of (x_ij * y_k) * x_kj = x_ij * c_j.

    Notebooks: II.5"""
    parts, head = layout(model.cfg.input_dim - 2), head_weights(model, 0, j)
    scale = math.sqrt(head.W_Q.shape[0])  # undo attention's division by sqrt(D)
    head.W_Q[0, parts["x"].start + j] = scale  # query: x_ij
    head.W_K[0, parts["r"]] = 1.0  # key: y_k
    head.W_V[0, parts["x"].start + j] = 1.0  # value: x_kj
    head.W_O[parts["xt"].start + j, 0] = 1.0  # written into xt_j


@torch.no_grad()
def gradient_step_head(model, layer, lr, beta):
    """One head of `layer` takes a gradient step: r_i <- r_i - lr * average_k (x_i^T P x_k) r_k.

    Notebooks: II.1, II.5"""
    d = model.cfg.input_dim - 2
    parts, head = layout(d), head_weights(model, layer, 0)
    scale = math.sqrt(head.W_Q.shape[0])
    for m in range(d):  # score <x_i, x_k> + beta <xt_i, xt_k>
        head.W_Q[m, parts["x"].start + m], head.W_K[m, parts["x"].start + m] = scale, 1.0
        head.W_Q[d + m, parts["xt"].start + m], head.W_K[d + m, parts["xt"].start + m] = beta * scale, 1.0
    head.W_V[0, parts["r"]] = 1.0  # value: the residual r_k
    head.W_O[parts["r"], 0] = -lr  # r_i <- r_i - lr * (the average)


@torch.no_grad()
def build(d, steps, lr, beta, max_len=64, dtype=torch.float32, preprocess=preprocess_head, step=gradient_step_head):
    """The construction for dimension d and `steps` gradient steps (see the module's doc), as a Transformer.
    Use dtype=torch.float64 to compare it with `baselines.correlation_gd` to many digits. preprocess and step:
    the functions that write one first-layer head, preprocess(model, j), and one gradient-step head,
    step(model, layer, lr, beta) (yours, in the notebook Part II.5).

    Notebooks: II.5"""
    if lr < 0 or beta < 0:
        raise ValueError(f"lr and beta must be non-negative, got lr={lr}, beta={beta}")
    model = blank(d, steps, max_len, dtype)
    parts = layout(d)
    model.embed.weight[parts["x"], :d] = torch.eye(d)  # read-in: x -> x, y -> r
    model.embed.weight[parts["r"], d] = 1.0
    for j in range(d):
        preprocess(model, j)
    for layer in range(1, steps + 1):
        step(model, layer, lr, beta)
    model.unembed.weight[0, parts["r"]] = -1.0  # read-out: -r is the prediction
    return model
