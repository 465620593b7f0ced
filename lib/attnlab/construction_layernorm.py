"""A preprocess-then-optimize transformer whose layer norm does the dividing: four layers, in the course's
`Transformer` (linear attention, layer norm, one MLP).

The algorithm, `feature_gd`, in plain code (this course's own design; paper B proves that algorithms of this kind,
a preprocessing of the examples then gradient steps, beat gradient descent and ridge, not this one):

    c = (1/n) sum_i x_i y_i                          preprocess: each coordinate's correlation with y
    f_i = [x_i, gamma x_i * c]                        the example's features: x and its reweighted copy
    (f_i, y_i) <- (f_i, y_i) / sqrt(|f_i|^2 + delta y_i^2)     each example divided by its own size
    v_0 = 0,  v_t+1 = v_t + lr_t (1/n) sum_i f_i (y_i - <v_t, f_i>)   one step per layer, a rate of its own
    predict <v, f_q>,  f_q = [x_q, gamma x_q * c]     (the query is not divided)

`build` writes it into weights. Layer norm divides every token by its size before each layer; the construction
decides where that division counts by *anchors*: large constants in the residual stream that make a token's
size almost the same whatever it holds. Each part of the stream is kept as a +copy and a -copy, so every token's
mean is 0 and layer norm only divides.

- Layer 1 (d + 2 heads), every token anchored by `e`: head j writes x_tj * c_j (a score of x_tj times y_k, a
  value of x_kj, averaged over the examples k: d heads for d coordinates); head d removes the anchor e from every
  token; head d + 1 writes an anchor A_q into the query only.
- Layer 1's MLP reads the token through its layer norm: an example, with no anchor left, is divided by its own
  size sqrt(|x|^2 + |gamma x * c|^2 + delta y^2) (up to a constant); the query, held by A_q, is not. Its MLP
  copies the divided features and label into fresh parts of the stream (gelu(z) - gelu(-z) = z exactly, so an MLP
  can copy), and its bias writes an anchor B into every token for the layers after.
- Layers 2, 3, 4, one head each: a gradient step on the divided examples (von Oswald et al., 2023), as in
  attnlab.construction. B holds every token's size almost fixed, so these layers' norms do not divide.

An anchor is finite, so the model computes `feature_gd` up to a small error (about 1e-3 on a prediction with the
default anchors); `as_computed` is the same algorithm with layer norm's exact sizes in place of the ideal ones, and
the model equals it in float64 to the digits the anchors leave (see ANCHORS).
"""
import itertools
import math

import torch

from .baselines import _check, _predict
from .circuits import head_weights, residual_layout
from .model import Config, Transformer

HEAD_SIZE = 16  # a perfect square: a score's sqrt(D) scaling cancels exactly
# The anchors: layer 1's, the query's in layer 1's MLP, and the later layers'. Larger ones bring the model closer
# to feature_gd and cost digits: a read of size 1 beside an anchor of 1e6 keeps about 10 of float64's 16, and the
# read-out multiplies it back. These keep its mean risk within 1e-4 of feature_gd's, and its predictions within
# about 1e-8 (relative) of as_computed's.
ANCHORS = dict(e=1e2, query=1e4, later=1e6)
EPS = 1e-5  # torch.nn.LayerNorm's
RATES = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)  # each layer's step: every example has size 1, so a rate of 2 or more can
# overshoot on prompts whose examples point the same way; tuning decides


def grid(steps):
    """The tuning grid for `steps` gradient layers: the layers' rates, gamma and delta. Rates in non-decreasing order
    only: gradient steps from v = 0 commute (after them, b - H v = prod_t (I - lr_t H) b, for H and b the examples'
    second moments), so every order of the same rates makes the same predictions."""
    return {"lrs": list(itertools.combinations_with_replacement(RATES, steps)),
            "gamma": [0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
            "delta": [0.0, 1.0]}


def _check_settings(lrs, gamma, delta):
    if gamma < 0 or delta < 0 or any(lr < 0 for lr in lrs):
        raise ValueError(f"lrs, gamma and delta must be non-negative, got lrs={lrs}, gamma={gamma}, delta={delta}")


def _divided(X, y, x_query, gamma, delta):
    """(F, t, Fq): each example's features [x, gamma x * c] and label, divided by sqrt(|f|^2 + delta y^2), and the
    query's features (not divided), with c the correlations (1/n) sum_i x_i y_i."""
    c = (X * y[..., None]).mean(1)  # (B, d)
    F, Fq = torch.cat([X, gamma * X * c[:, None]], -1), torch.cat([x_query, gamma * x_query * c], -1)
    size = ((F ** 2).sum(-1) + delta * y ** 2).sqrt().clamp(min=torch.finfo(X.dtype).tiny)
    return F / size[..., None], y / size, Fq


def _steps(F, t, Fq, lrs):
    """Gradient steps from v = 0 on the examples (F, t), each at its own rate; the prediction <v, Fq>."""
    v = F.new_zeros(F.shape[0], F.shape[-1])
    for lr in lrs:
        v = v + lr * (F * (t - (F * v[:, None]).sum(-1))[..., None]).mean(1)
    return (v * Fq).sum(-1)


def feature_gd(X, y, x_query, lrs=(1.0, 1.5, 4.0), gamma=10.0, delta=0.0):
    """The algorithm in plain code (see the module's doc): one gradient step per entry of `lrs`. Returns (B,)."""
    _check(X, y, x_query)
    _check_settings(lrs, gamma, delta)
    if X.shape[1] == 0:
        return _predict(X.new_zeros(X.shape[0], X.shape[2]), x_query)
    return _steps(*_divided(X, y, x_query, gamma, delta), lrs)


def _grid_risks(X, y, x_query, target, gamma, delta, steps):
    """The mean squared error of feature_gd against `target` for every sequence of rates in grid(steps), in its
    order. The sequences share their prefixes, so each layer's step is taken once per prefix: 6 + 21 + 56 steps
    for 3 layers, not 3 * 56."""
    F, t, Fq = _divided(X, y, x_query, gamma, delta)
    rates = X.new_tensor(RATES)
    last, v = [0], F.new_zeros(1, F.shape[0], F.shape[-1])  # each sequence's last rate index; v: (sequences, B, f)
    for _ in range(steps):
        step = torch.einsum("sbn,bnf->sbf", t - torch.einsum("sbf,bnf->sbn", v, F), F) / F.shape[1]
        # each sequence extended by each rate at least its last, in the order of combinations_with_replacement
        parent, last = zip(*[(i, k) for i, j in enumerate(last) for k in range(j, len(RATES))])
        v = v[list(parent)] + rates[list(last), None, None] * step[list(parent)]
    return (((v * Fq).sum(-1) - target) ** 2).mean(1)


def tune(X, y, x_query, target, steps, rtol=1e-12):
    """The settings of grid(steps) whose feature_gd has the least mean squared error against `target`: the first, in
    the grid's order (delta, gamma, then the rates), within `rtol` of the least. Settings can tie exactly (with one
    example and delta = 0, every sequence of rates that holds a 1 fits it exactly), and rounding must not decide.
    One batched run per (gamma, delta), not 12 calls of feature_gd per sequence of rates."""
    _check(X, y, x_query)
    choices = grid(steps)
    if X.shape[1] == 0:  # no examples: every setting predicts 0
        return {name: values[0] for name, values in choices.items()}
    table = torch.stack([torch.stack([_grid_risks(X, y, x_query, target, gamma, delta, steps)
                                      for gamma in choices["gamma"]]) for delta in choices["delta"]])
    first = int((table.flatten() <= table.min() * (1 + rtol)).nonzero()[0])
    d, rest = divmod(first, table.shape[1] * table.shape[2])
    g, lrs = divmod(rest, table.shape[2])
    return dict(delta=choices["delta"][d], gamma=choices["gamma"][g], lrs=choices["lrs"][lrs])


def layout(d):
    """The residual stream's parts, each a +copy then a -copy, and one channel that layer norm turns into a constant
    1 (its weight 0, its bias 1): {"X+": slice, "X-": slice, ..., "one": slice}."""
    # X, Y: the token's x and y; E: layer 1's anchor; Q: 1 at the query; AQ: the query's anchor for layer 1's MLP;
    # U: x * c, written by layer 1; AN: the later layers' anchor; V, R: the divided features and label (at the
    # query, its features and minus the prediction so far), written by layer 1's MLP, R updated by each step
    sizes = dict(X=d, Y=1, E=1, Q=1, AQ=1, U=d, AN=1, V=2 * d, R=1)
    return residual_layout(**{f"{part}{sign}": size for part, size in sizes.items() for sign in "+-"}, one=1)


def width(d):
    """The residual stream's width: d + 2 heads of HEAD_SIZE (the stream's 8 d + 13 channels fit in it)."""
    return (d + 2) * HEAD_SIZE


def _label_scale(delta):
    """y enters the stream times this: its share of an example's size is delta y^2 (a tiny floor stands in for 0,
    so that the label can be read back)."""
    return max(math.sqrt(delta), 1e-4)


def _both(weight, parts, part, row, column, value):
    """Write value into the +copy of `part` (its row-th entry) and -value into the -copy."""
    weight[parts[part + "+"].start + row, column] = value
    weight[parts[part + "-"].start + row, column] = -value


@torch.no_grad()
def build(d, lrs=(1.0, 1.5, 4.0), gamma=10.0, delta=0.0, max_len=64, dtype=torch.float64, anchors=ANCHORS):
    """The transformer of the module's doc, for dimension d and one gradient layer per entry of `lrs`; float64 by
    default (the anchors need its digits).

    Notebooks: II.5"""
    if d < 1 or not lrs:
        raise ValueError(f"need d >= 1 and at least one lr, got d={d}, lrs={lrs}")
    _check_settings(lrs, gamma, delta)
    parts, W, eta = layout(d), width(d), _label_scale(delta)
    cfg = Config(max_len=max_len, output_dim=1, input_dim=d + 2, width=W, depth=1 + len(lrs), heads=d + 2,
                 mlp=True, layer_norm=True, causal=False, private_queries=True, attention="linear")
    model = Transformer(cfg).to(dtype)
    for parameter in model.parameters():
        parameter.zero_()
    one = parts["one"].start
    for norm in [model.norm_final] + [n for block in model.blocks for n in (block.norm_attn, block.norm_mlp)]:
        norm.weight.fill_(1.0)
        norm.weight[one], norm.bias[one] = 0.0, 1.0
    embed, e = model.embed, anchors["e"]
    for j in range(d):
        _both(embed.weight, parts, "X", j, j, 1.0)
    _both(embed.weight, parts, "Y", 0, d, eta)
    _both(embed.bias[:, None], parts, "E", 0, 0, e)  # the anchor e, in every token
    _both(embed.bias[:, None], parts, "Q", 0, 0, 1.0)  # 1 - (last feature): 1 at the query, 0 at an example
    _both(embed.weight, parts, "Q", 0, d + 1, -1.0)
    root, size_e = math.sqrt(HEAD_SIZE), math.sqrt(2 * e ** 2 / W)  # a token's size in layer 1, about
    for j in range(d):  # x_tj c_j: each read is divided by about size_e, and y was scaled by eta
        head = head_weights(model, 0, j)
        head.W_Q[0, parts["X+"].start + j], head.W_K[0, parts["Y+"]], head.W_V[0, parts["X+"].start + j] = root, 1, 1
        _both(head.W_O, parts, "U", j, 0, gamma * size_e ** 3 / eta)
    for head_index, reads, writes, value in ((d, "one", "E", -e), (d + 1, "Q+", "AQ", anchors["query"] * size_e)):
        head = head_weights(model, 0, head_index)  # a constant score and value: the query read alone decides
        head.W_Q[0, parts[reads]], head.W_K[0, one], head.W_V[0, one] = root, 1.0, 1.0
        _both(head.W_O, parts, writes, 0, 0, value)
    mlp, scale = model.blocks[0].mlp, math.sqrt(2 / W)  # scale: the divided example comes out at its ideal size
    copies = [(parts["X+"].start + j, j, scale) for j in range(d)] + \
        [(parts["U+"].start + j, d + j, scale) for j in range(d)]
    for unit, (source, target, factor) in enumerate(copies + [(parts["Y+"].start, None, scale / eta)]):
        mlp.up.weight[2 * unit, source], mlp.up.weight[2 * unit + 1, source] = 1.0, -1.0
        for sign, hidden in ((1.0, 2 * unit), (-1.0, 2 * unit + 1)):
            part, row = ("V", target) if target is not None else ("R", 0)
            _both(mlp.down.weight, parts, part, row, hidden, sign * factor)
    _both(mlp.down.bias[:, None], parts, "AN", 0, 0, anchors["later"])
    size_later = math.sqrt(2 * anchors["later"] ** 2 / W)
    for layer, lr in enumerate(lrs, start=1):  # r_i <- r_i - lr * average_k <V_i, V_k> r_k
        head = head_weights(model, layer, 0)
        for m in range(2 * d):
            head.W_Q[m, parts["V+"].start + m], head.W_K[m, parts["V+"].start + m] = root, 1.0
        head.W_V[0, parts["R+"]] = 1.0
        _both(head.W_O, parts, "R", 0, 0, -lr * size_later ** 3)
    size_query = math.sqrt(2 * anchors["query"] ** 2 / W)
    model.unembed.weight[0, parts["R+"]] = -size_later * size_query / scale  # -r at the query, in units of y
    return model.eval()


def as_computed(X, y, x_query, lrs=(1.0, 1.5, 4.0), gamma=10.0, delta=0.0, anchors=ANCHORS):
    """`feature_gd` with layer norm's exact divisions in place of the ideal ones: what `build`'s model computes,
    step by step. A token's size before a layer is sqrt(2 |what it holds|^2 / width + eps): every part is held
    twice (+ and -), and layer norm's mean is then 0. Returns (B,).

    Notebooks: II.5"""
    _check(X, y, x_query)
    _check_settings(lrs, gamma, delta)
    B_, n, d = X.shape
    W, eta, e = width(d), _label_scale(delta), anchors["e"]
    def size(*parts):  # each part (B, T, k), or (B, T) for one number per token
        return (2 * sum((p ** 2).sum(-1) if p.dim() == 3 else p ** 2 for p in parts) / W + EPS).sqrt()
    x = torch.cat([X, x_query[:, None]], 1)  # (B, n + 1, d): the examples, then the query
    label = torch.cat([y, y.new_zeros(B_, 1)], 1)
    query = torch.zeros_like(label)
    query[:, -1] = 1.0
    anchor = torch.full_like(label, e)
    s1 = size(x, eta * label, anchor, query)  # layer 1: every token held by e
    size_e = math.sqrt(2 * e ** 2 / W)
    c = (X * (y / s1[:, :n] ** 2)[..., None]).mean(1) if n else X.new_zeros(B_, d)
    U = gamma * size_e ** 3 * x * c[:, None] / s1[..., None]
    held = anchors["query"] * size_e * query / s1  # the query's anchor; e is gone from every token
    s2 = size(x, eta * label, query, held, U)  # layer 1's MLP: an example divided by its own size
    scale = math.sqrt(2 / W)
    V, R = scale * torch.cat([x, U], -1) / s2[..., None], scale * label / s2
    fixed = [x, eta * label, query, held, U, torch.full_like(label, anchors["later"]), V]
    size_later = math.sqrt(2 * anchors["later"] ** 2 / W)
    for lr in lrs:
        s = size(*fixed, R)
        if n:
            reads = V / s[..., None]
            step = (reads @ reads[:, :n].transpose(1, 2) * (R[:, :n] / s[:, :n])[:, None]).mean(-1)
            R = R - lr * size_later ** 3 * step
    size_query = math.sqrt(2 * anchors["query"] ** 2 / W)
    return -size_later * size_query / scale * (R / size(*fixed, R))[:, -1]
