"""The algorithm a dividing construction would have to compute: gradient descent on examples normalised one by one.

`baselines.correlation_gd`, which `attnlab.construction` writes into linear attention, cannot divide. Its
preconditioner 1 + beta c^2 grows with the size of w, so any beta that helps on small-w prompts diverges on
large-w ones, and tuning picks beta = 0 (plain fixed-step gradient descent). Layer norm is the one place where
the course's transformer divides: it divides each token's vector by that token's own size. Applied to an example
token, that is a division of (x_i, y_i) by a norm of x_i, which keeps y_i = <w, x_i> true. `normalized_gd` is
that idea as a plain algorithm, in float64, with no transformer:

    c = (1/n) sum_i x_i y_i / |x_i|^2                       correlations of the normalised examples
    P = 1 + beta c^2 / |c|^2                                a scale-free reweighting: a ratio, so a division
    (x_i, y_i) <- (x_i, y_i) / sqrt(x_i^T P x_i)            each example divided by its size in the P-metric
    w_0 = 0,  w_t+1 = w_t + lr P (1/n) sum_i x_i (y_i - <w_t, x_i>)     `steps` steps, one fixed lr
    predict <w_steps, x_q>

Every normalised example has x_i^T P x_i = 1, so the largest curvature of the reweighted loss is at most 1 and
a fixed lr in (0, 2) is stable on every prompt (the role of the step 1/L in `baselines.gd`). Scaling y (the size
of w) scales c, leaves P unchanged and scales the prediction: nothing to re-tune from prompt to prompt.
"""
import torch

from .baselines import _check, _predict


def normalized_gd(X, y, x_query, steps=3, lr=1.0, beta=10.0):
    """Preprocess (a scale-free reweighting from the correlations), then `steps` gradient steps on the examples
    divided by their size in the reweighted metric; see the module's doc. Returns the predictions, (B,).

    Notebooks: II.5"""
    _check(X, y, x_query)
    if steps < 0 or lr < 0 or beta < 0:
        raise ValueError(f"steps, lr and beta must be non-negative, got steps={steps}, lr={lr}, beta={beta}")
    B, n, d = X.shape
    w = X.new_zeros(B, d)
    if n == 0:
        return _predict(w, x_query)
    size = (X ** 2).sum(-1).clamp(min=torch.finfo(X.dtype).tiny)  # (B, n) |x_i|^2; 0 only for x_i = 0
    c = (X * (y / size)[..., None]).mean(1)  # (B, d)
    total = (c ** 2).sum(1, keepdim=True)
    P = 1 + beta * c ** 2 / torch.where(total > 0, total, torch.ones_like(total))  # the division
    norm = ((X ** 2) * P[:, None, :]).sum(-1).clamp(min=torch.finfo(X.dtype).tiny).sqrt()  # (B, n)
    X, y = X / norm[..., None], y / norm
    for _ in range(steps):
        residual = y - (X @ w[..., None])[..., 0]
        w = w + lr * P * (X.transpose(1, 2) @ residual[..., None])[..., 0] / n
    return _predict(w, x_query)


# The tuning grid: lr below 2 (stable, see above); beta = 0 is per-example normalised gd without preprocessing.
GRID = {"lr": [0.3, 0.5, 0.7, 0.9, 1.0, 1.2, 1.4, 1.6, 1.8, 1.95], "beta": [0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0]}
