"""In-context sparse linear regression: the task of Part II (in the spirit of Chen, Zhao & Zou, NeurIPS 2024).

A prompt holds n examples (x_i, y_i) and a query x_q, all drawn afresh for every prompt:

    x_i ~ N(0, I_d),   w has s non-zero coordinates on a random support, each ~ N(0, 1/s),
    y_i = <w, x_i> + sigma * noise_i,          the model must predict y_q for x_q.

The scale 1/s makes E[y^2] = 1 + sigma^2, so predicting 0 has excess risk 1 whatever d and s are.
Quality is the **excess risk**: the mean of (prediction - <w, x_q>)^2, measured against the noise-free
target, which every prompt keeps beside the noisy y_q.

Two token layouts (``layout=``):

- ``"joint"`` (the course's default, see attnlab.heads): one token per example, ``[x_i, y_i, 1]``, then the query
  ``[x_q, 0, 0]`` (input_dim = d + 2; the last feature marks examples), and the prediction is read at the
  query. Each training batch draws its own number of examples in 0..n; the test split always uses n. With
  ``queries=m`` a training prompt ends in m query tokens instead of one, each with its own target: a model with
  ``Config(private_queries=True)`` lets each query see the examples only (and itself, under softmax attention),
  so one prompt teaches m independent predictions (the test split keeps one query).
- ``"separate"``: one token per x and one per y, as in Garg et al. (2022), ``x_1, y_1, ..., x_n, y_n, x_q``; an x
  token is ``[x, 0, 1]`` and a y token is ``[0, ..., 0, y, 0]``. The model predicts a y at every x token, so one
  pass gives a prediction after 0, 1, ..., n examples. To use x_i * y_i the model must first pair each y_i with
  its x_i, by position, which gives training a long plateau; a curriculum (``curriculum_steps``) and a
  sinusoidal start for the positional table (``attnlab.heads.make_model(positions="sinusoidal")``) shorten it.

Plain functions (`sample_prompts`, `encode`) return the raw tensors for the baselines of
`attnlab.baselines`; the class `SparseRegression` is a task for `attnlab.train`.
"""
from dataclasses import dataclass, fields, replace

import torch

from .base import check_split

LAYOUTS = ("separate", "joint")


@dataclass
class Prompts:
    """A batch of B prompts with n examples each, in dimension d."""

    X: torch.Tensor  # (B, n, d) the examples' inputs
    y: torch.Tensor  # (B, n) their noisy labels
    w: torch.Tensor  # (B, d) the sparse weights, s non-zero per row
    x_query: torch.Tensor  # (B, d)
    y_query: torch.Tensor  # (B,) noisy label of the query
    target: torch.Tensor  # (B,) noise-free label of the query, <w, x_query>: excess risk is measured against it
    clean: torch.Tensor  # (B, n) noise-free labels of the examples, <w, x_i>
    support: torch.Tensor  # (B, d) bool, True on the s non-zero coordinates of w

    @property
    def batch_size(self):
        return self.X.shape[0]

    @property
    def n(self):
        return self.X.shape[1]

    @property
    def d(self):
        return self.X.shape[2]

    def first(self, k):
        """The same prompts with only their first k examples (the query is kept)."""
        if not 0 <= k <= self.n:
            raise ValueError(f"k must lie in [0, n={self.n}], got {k}")
        return replace(self, X=self.X[:, :k], y=self.y[:, :k], clean=self.clean[:, :k])

    def to(self, device=None, dtype=None):
        """The same prompts on `device`, their real-valued tensors in `dtype` (the support mask stays bool)."""
        def moved(t):
            return t.to(device=device, dtype=dtype if dtype is not None and t.is_floating_point() else t.dtype)
        return Prompts(**{f.name: moved(getattr(self, f.name)) for f in fields(self)})


def _check_sizes(d, s, n, sigma, batch_size=1):
    if d < 1 or n < 0 or batch_size < 1:
        raise ValueError(f"need d >= 1, n >= 0 and batch_size >= 1, got d={d}, n={n}, batch_size={batch_size}")
    if not 1 <= s <= d:
        raise ValueError(f"sparsity s must lie in [1, d={d}], got s={s}")
    if sigma < 0:
        raise ValueError(f"noise sigma must be non-negative, got {sigma}")


def sample_prompts(batch_size, d=8, s=2, n=16, sigma=0.1, generator=None, dtype=torch.float32):
    """Draw B prompts of in-context sparse linear regression; returns `Prompts`.

    The same generator state gives the same prompts on every machine (all draws happen on the CPU).

    Notebooks: II.1, II.4, II.5
    """
    _check_sizes(d, s, n, sigma, batch_size)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    # A random support of size s per prompt: the s smallest of d uniform numbers.
    order = torch.rand(batch_size, d, generator=g).argsort(dim=1)
    support = torch.zeros(batch_size, d, dtype=torch.bool).scatter_(1, order[:, :s], True)
    w = torch.randn(batch_size, d, generator=g) * support / s ** 0.5
    X = torch.randn(batch_size, n + 1, d, generator=g)  # n examples, then the query
    clean = torch.einsum("bnd,bd->bn", X, w)
    noisy = clean + sigma * torch.randn(batch_size, n + 1, generator=g)
    X, clean, noisy, w = (t.to(dtype) for t in (X, clean, noisy, w))
    return Prompts(X=X[:, :n], y=noisy[:, :n], w=w, x_query=X[:, n], y_query=noisy[:, n], target=clean[:, n],
                   clean=clean[:, :n], support=support)


def encode(prompts, layout="separate"):
    """The token sequence a transformer reads.

    separate: (B, 2n + 1, d + 2) tokens x_1, y_1, ..., x_n, y_n, x_q: [x, 0, 1] at the even positions 0, 2, ..., 2n,
              [0, ..., 0, y, 0] at the odd ones (the last feature says which kind of token it is).
    joint:    (B, n + 1, d + 2) tokens [x_i, y_i, 1] then [x_q, 0, 0].

    Notebooks: II.1, II.5
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    P = prompts
    B, n, d = P.X.shape
    if layout == "separate":
        xs = torch.cat([P.X, P.x_query[:, None]], dim=1)  # (B, n + 1, d)
        tokens = P.X.new_zeros(B, 2 * n + 1, d + 2)
        tokens[:, 0::2, :d] = xs
        tokens[:, 0::2, d + 1] = 1.0  # "this is an x token"
        tokens[:, 1::2, d] = P.y
        return tokens
    tokens = P.X.new_zeros(B, n + 1, d + 2)
    tokens[:, :n, :d] = P.X
    tokens[:, :n, d] = P.y
    tokens[:, :n, d + 1] = 1.0
    tokens[:, n, :d] = P.x_query
    return tokens


def excess_risk(predictions, targets):
    """Mean squared distance between predictions and noise-free targets, over all entries: one number."""
    return ((predictions - targets) ** 2).mean()


class SparseRegression:
    """In-context sparse linear regression as a task for `attnlab.train`.

    sample() returns (tokens, targets) with targets (B, P, 2): the noisy and the noise-free label at the P
    prediction positions. With the separate layout P = n + 1 (a prediction at every x token: after 0, 1, ...,
    n examples); with the joint layout P = 1 (the query), or P = queries for training batches with several.

    loss: mean squared error against the noisy labels (``train_on="noisy"``, the faithful choice) or the
    noise-free ones (``train_on="clean"``: the same minimiser, less variance in the gradient).
    curriculum_steps > 0: training batches start with only s active coordinates and grow to d over that many
    batches (the task counts the batches it has sampled; test batches always use all d).
    metric: the excess risk against the noise-free labels, averaged over the prediction positions
    (so over n = 0..n for the separate layout; at n for the joint layout's test split). Lower is better.
    """

    higher_is_better = False
    metric_name = "excess risk"

    def __init__(self, d=8, s=2, n=16, sigma=0.1, layout="separate", train_on="noisy", curriculum_steps=0, queries=1):
        _check_sizes(d, s, n, sigma)
        if not (isinstance(queries, int) and queries >= 1) or (queries > 1 and layout != "joint"):
            raise ValueError(f"queries must be an integer >= 1, and 1 unless layout='joint'; got {queries!r}")
        if curriculum_steps < 0:
            raise ValueError(f"curriculum_steps must be non-negative, got {curriculum_steps}")
        if n < 1:
            raise ValueError(f"n must be at least 1 for a training task, got {n}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if train_on not in ("noisy", "clean"):
            raise ValueError(f"train_on must be 'noisy' or 'clean', got {train_on!r}")
        self.d, self.s, self.n, self.sigma, self.layout, self.train_on = d, s, n, sigma, layout, train_on
        self.curriculum_steps, self.train_batches, self.queries = curriculum_steps, 0, queries
        self.input_dim = d + 2
        self.seq_len = 2 * n + 1 if layout == "separate" else n + queries
        self.output_dim = 1

    def __repr__(self):
        return (f"SparseRegression(d={self.d}, s={self.s}, n={self.n}, sigma={self.sigma}, "
                f"layout={self.layout!r}, train_on={self.train_on!r}, curriculum_steps={self.curriculum_steps}, "
                f"queries={self.queries})")

    def prompts(self, batch_size, generator=None, n=None, d_active=None):
        """Raw prompts of this task's distribution (n examples, default the task's n).

        d_active < d: only the first d_active coordinates of x are drawn (the rest are 0), as in a curriculum.
        """
        n = self.n if n is None else n
        if d_active is None or d_active >= self.d:
            return sample_prompts(batch_size, self.d, self.s, n, self.sigma, generator)
        P = sample_prompts(batch_size, d_active, min(self.s, d_active), n, self.sigma, generator)
        pad = self.d - d_active
        grow = lambda t: torch.nn.functional.pad(t, (0, pad))  # noqa: E731
        return replace(P, X=grow(P.X), w=grow(P.w), x_query=grow(P.x_query), support=grow(P.support))

    def curriculum_d(self):
        """The active dimension of the next training batch: s at first, growing linearly to d over
        curriculum_steps training batches (Garg et al., 2022); d without a curriculum."""
        if not self.curriculum_steps:
            return self.d
        progress = min(1.0, self.train_batches / self.curriculum_steps)
        return self.s + int(round((self.d - self.s) * progress))

    def encode(self, prompts):
        return encode(prompts, self.layout)

    def sample(self, batch_size, generator, split="train"):
        check_split(split)
        d_active = None
        if split == "train":
            d_active = self.curriculum_d()
            self.train_batches += 1
        if self.layout == "separate":
            P = self.prompts(batch_size, generator, d_active=d_active)
            noisy = torch.cat([P.y, P.y_query[:, None]], dim=1)
            clean = torch.cat([P.clean, P.target[:, None]], dim=1)
        elif split == "test" or self.queries == 1:
            n = self.n if split == "test" else int(torch.randint(self.n + 1, (1,), generator=generator))
            P = self.prompts(batch_size, generator, n=n, d_active=d_active)
            noisy, clean = P.y_query[:, None], P.target[:, None]
        else:
            return self._multi_query(batch_size, generator, d_active)
        return encode(P, self.layout), torch.stack([noisy, clean], dim=-1)

    def _multi_query(self, batch_size, generator, d_active):
        """Joint layout, training: n examples then `queries` query tokens [x, 0, 0] that share the context
        (a model with Config.private_queries keeps them from seeing one another). Targets (B, queries, 2)."""
        m, d = self.queries, self.d
        n = int(torch.randint(self.n + 1, (1,), generator=generator))
        P = self.prompts(batch_size, generator, n=n + m - 1, d_active=d_active)  # the last m - 1 examples are queries
        tokens = P.X.new_zeros(batch_size, n + m, d + 2)
        tokens[:, :n, :d], tokens[:, :n, d], tokens[:, :n, d + 1] = P.X[:, :n], P.y[:, :n], 1.0
        tokens[:, n:, :d] = torch.cat([P.X[:, n:], P.x_query[:, None]], 1)
        noisy = torch.cat([P.y[:, n:], P.y_query[:, None]], 1)
        clean = torch.cat([P.clean[:, n:], P.target[:, None]], 1)
        return tokens, torch.stack([noisy, clean], dim=-1)

    def predictions(self, outputs, targets=None):
        """(B, P) predictions from the model's outputs (B, T, 1), at the prediction positions (for the joint
        layout, the last P tokens, P = targets.shape[1], default 1)."""
        if self.layout == "separate":
            return outputs[:, 0::2, 0]
        count = 1 if targets is None else targets.shape[1]
        return outputs[:, -count:, 0]

    def loss(self, outputs, targets):
        column = 0 if self.train_on == "noisy" else 1
        return ((self.predictions(outputs, targets) - targets[..., column]) ** 2).mean()

    def metric(self, outputs, targets):
        return ((self.predictions(outputs, targets) - targets[..., 1]) ** 2).mean().item()

    def risk_by_position(self, outputs, targets):
        """(P,) excess risk at each prediction position (for the separate layout: after 0, 1, ..., n examples)."""
        return ((self.predictions(outputs, targets) - targets[..., 1]) ** 2).mean(dim=0)
