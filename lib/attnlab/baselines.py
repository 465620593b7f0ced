"""Classical predictors for in-context (sparse) linear regression, batched in torch.

Each predictor reads a batch of prompts, X (B, n, d), y (B, n), x_query (B, d), and returns the predicted
label of each query, (B,). They work on any n >= 0 (with no examples they predict 0) and on any float dtype.

- `ridge`: w = (X^T X + lam I)^-1 X^T y.
- `gd`: k steps of gradient descent from zero on the mean squared loss (1/2n) ||X w - y||^2, with step size
  lr / L where L is the largest curvature of that loss (so lr < 2 never diverges; lr = 1 is the step 1/L).
- `lasso`: the minimiser of (1/2n) ||X w - y||^2 + lam ||w||_1, exactly, by its homotopy (LARS-Lasso).
- `oracle`: least squares on the true support (it is told where w is non-zero): our statistical limit.
- `preprocess_gd`: preprocess-then-optimize. First reweight each coordinate j by a statistic of the
  context, here its empirical correlation with y, c_j = |(1/n) sum_i x_ij y_i|, normalised to a_j = (c_j /
  max_k c_k)^power; then k gradient steps, from zero, on the reweighted inputs a * x. Coordinates that
  barely correlate with y barely move, which is what a sparse w calls for. (Paper B proves that such a
  preprocessing followed by gradient steps beats plain gradient descent and ridge; the exact statistic and
  the power are the course's choice. Power 0 is plain gradient descent, so the tuned version can only match or
  beat it on the tuning prompts.)

- `correlation_gd`: the preprocess-then-optimize algorithm that a linear-attention transformer can compute
  exactly (`attnlab.construction` writes it into weights): k steps of gradient descent from zero with one fixed
  step size lr, preconditioned coordinate-wise by the signed correlations c = X^T y / n,
  w <- w + lr * (alpha + beta * c^2) * X^T (y - X w) / n. beta = 0 is plain fixed-step gradient descent.

`tune` picks each method's hyperparameters (ridge lambda, step size, lasso lambda, power) on held-out
prompts, separately for each n; `risk_curves` tunes and then measures every method on fresh prompts.
"""
import itertools
import math

import torch

from .lasso import lasso_kkt_violation, lasso_weights  # noqa: F401 (part of this module's interface)
from .tasks.regression import sample_prompts


def _check(X, y, x_query):
    if X.dim() != 3 or y.dim() != 2 or x_query.dim() != 2:
        raise ValueError(f"expected X (B, n, d), y (B, n), x_query (B, d); got shapes {tuple(X.shape)}, "
                         f"{tuple(y.shape)}, {tuple(x_query.shape)}")
    B, n, d = X.shape
    if tuple(y.shape) != (B, n) or tuple(x_query.shape) != (B, d):
        raise ValueError(f"shapes disagree: X {tuple(X.shape)} needs y ({B}, {n}) and x_query ({B}, {d}); got "
                         f"{tuple(y.shape)} and {tuple(x_query.shape)}")
    return B, n, d


def _predict(w, x_query):
    return (w * x_query).sum(-1)


def ridge_weights(X, y, lam):
    """(B, d) ridge solution (X^T X + lam I)^-1 X^T y; lam > 0 (lam = 0 needs n >= d).

    Notebooks: II.1"""
    B, n, d = X.shape
    if lam < 0:
        raise ValueError(f"ridge lam must be non-negative, got {lam}")
    if n == 0:
        return X.new_zeros(B, d)
    A = X.transpose(1, 2) @ X + lam * torch.eye(d, dtype=X.dtype, device=X.device)
    return torch.linalg.solve(A, (X.transpose(1, 2) @ y[..., None]))[..., 0]


def ridge(X, y, x_query, lam=1.0):
    """Ridge regression's prediction for each query, (B,).

    Notebooks: II.1"""
    _check(X, y, x_query)
    return _predict(ridge_weights(X, y, lam), x_query)


def gd_weights(X, y, steps, lr, scale=None):
    """(B, d) after `steps` gradient steps from 0 on (1/2n) ||X w - y||^2 (on the inputs X * scale when given).

    The step size is lr / L with L the largest eigenvalue of the loss's curvature X^T X / n (its smoothness
    constant): any lr in (0, 2) is stable on every prompt, and lr = 1 is the textbook step 1/L. A fixed step
    for all prompts would diverge on the rare prompts whose curvature is large, which ruins a mean risk.

    Notebooks: II.1, II.4
    """
    B, n, d = X.shape
    if steps < 0 or lr < 0:
        raise ValueError(f"steps and lr must be non-negative, got steps={steps}, lr={lr}")
    w = X.new_zeros(B, d)
    if n == 0:
        return w
    if scale is not None:
        X = X * scale[:, None, :]
    L = torch.linalg.eigvalsh(X.transpose(1, 2) @ X / n)[:, -1]  # (B,) largest curvature
    step = lr / torch.where(L > 0, L, torch.ones_like(L))
    for _ in range(steps):
        residual = (X @ w[..., None])[..., 0] - y  # (B, n)
        w = w - step[:, None] * (X.transpose(1, 2) @ residual[..., None])[..., 0] / n
    return w


def gd(X, y, x_query, steps=3, lr=1.0):
    """Prediction after k = `steps` steps of gradient descent from zero (step size lr / L, see gd_weights), (B,).

    Notebooks: II.1, II.4"""
    _check(X, y, x_query)
    return _predict(gd_weights(X, y, steps, lr), x_query)


def lasso(X, y, x_query, lam=0.05):
    """Lasso's prediction for each query, (B,)."""
    _check(X, y, x_query)
    return _predict(lasso_weights(X, y, lam), x_query)


def oracle(X, y, x_query, support, lam=1e-6):
    """Least squares on the true support, (B,): it is told which s coordinates of w are non-zero.

    A tiny ridge term lam keeps n <= s (under- or just-determined) stable; `tune` picks it from a small grid.

    Notebooks: II.1
    """
    _check(X, y, x_query)
    if tuple(support.shape) != tuple(x_query.shape):
        raise ValueError(f"support must have shape {tuple(x_query.shape)}, got {tuple(support.shape)}")
    mask = support.to(X.dtype)
    return _predict(ridge_weights(X * mask[:, None, :], y, lam) * mask, x_query)


def correlations(X, y):
    """(B, d) the correlation of each coordinate with the label, c_j = (1/n) sum_i x_ij y_i (0 with no examples).

    Notebooks: II.4, II.5"""
    n = X.shape[1]
    return (X.transpose(1, 2) @ y[..., None])[..., 0] / max(n, 1)


def preprocess_weights(X, y, power=1.0):
    """(B, d) the reweighting a_j = (c_j / max_k c_k)^power from the correlations c_j = |(1/n) sum_i x_ij y_i|.

    Notebooks: II.4"""
    if power < 0:
        raise ValueError(f"power must be non-negative, got {power}")
    B, n, d = X.shape
    if n == 0:
        return X.new_ones(B, d)
    c = correlations(X, y).abs()
    top = c.amax(dim=1, keepdim=True)
    return (c / torch.where(top > 0, top, torch.ones_like(top))) ** power


def preprocess_gd(X, y, x_query, steps=3, lr=1.0, power=1.0):
    """Preprocess-then-optimize: reweight coordinates by their correlation with y, then k gradient steps, (B,).

    Notebooks: II.1, II.4"""
    _check(X, y, x_query)
    a = preprocess_weights(X, y, power)
    v = gd_weights(X, y, steps, lr, scale=a)
    return _predict(v * a, x_query)


def correlation_gd(X, y, x_query, steps=3, lr=0.1, beta=1.0, alpha=1.0):
    """k steps of fixed-step gradient descent preconditioned by alpha + beta * c^2 (c: `correlations`), (B,).

    Every operation is a sum over the examples of products, which is what linear attention computes, so a
    transformer can run it exactly: see `attnlab.construction`. No step is rescaled per prompt, so too large a
    lr or beta diverges on the prompts whose curvature or correlations are large.

    Notebooks: II.1, II.5
    """
    _check(X, y, x_query)
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    B, n, d = X.shape
    w = X.new_zeros(B, d)
    if n == 0:
        return _predict(w, x_query)
    preconditioner = alpha + beta * correlations(X, y) ** 2  # (B, d)
    for _ in range(steps):
        residual = y - (X @ w[..., None])[..., 0]  # (B, n)
        w = w + lr * preconditioner * (X.transpose(1, 2) @ residual[..., None])[..., 0] / n
    return _predict(w, x_query)


# Each method: the function, and the grid its hyperparameters are tuned on.
GRIDS = {
    "ridge": {"lam": [1e-3, 3e-3, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0]},
    "gd": {"lr": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.6, 1.8, 1.95]},
    "lasso": {"lam": [0.003, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0]},
    "oracle": {"lam": [1e-6, 0.01, 0.03, 0.1, 0.3]},
    "preprocess_gd": {"lr": [0.4, 0.7, 1.0, 1.3, 1.6, 1.8, 1.95], "power": [0.0, 0.5, 1.0, 2.0, 3.0]},
    "correlation_gd": {"lr": [0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0],
                       "beta": [0.0, 0.01, 0.03, 0.1, 0.3, 1.0]},
}
METHODS = {"ridge": ridge, "gd": gd, "lasso": lasso, "oracle": oracle, "preprocess_gd": preprocess_gd,
           "correlation_gd": correlation_gd}


def predict(method, prompts, **params):
    """Run a method by name on `Prompts`; params are its hyperparameters (steps for gd and preprocess_gd).

    Notebooks: II.2"""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    P = prompts
    if method == "oracle":
        return oracle(P.X, P.y, P.x_query, P.support, **params)
    return METHODS[method](P.X, P.y, P.x_query, **params)


def risk(method, prompts, **params):
    """Excess risk of a method on `Prompts`: mean (prediction - <w, x_q>)^2.

    Notebooks: II.4, II.5"""
    return ((predict(method, prompts, **params) - prompts.target) ** 2).mean().item()


def tune(method, prompts, grid=None, **fixed):
    """The hyperparameters in the grid with the lowest risk on these (held-out) prompts: (params, risk).

    fixed: parameters not tuned, such as steps=k for gd and preprocess_gd.

    Notebooks: II.2, II.4
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    grid = GRIDS[method] if grid is None else grid
    names = sorted(grid)
    best, best_risk = None, math.inf
    for values in itertools.product(*(grid[k] for k in names)):
        params = dict(zip(names, values), **fixed)
        r = risk(method, prompts, **params)
        if r < best_risk:
            best, best_risk = params, r
    return best, best_risk


def risk_curves(d=8, s=2, sigma=0.1, n_values=range(0, 17), methods=("ridge", "gd", "lasso", "oracle", "preprocess_gd"),
                steps=3, num_tune=2000, num_eval=4000, seed=0, dtype=torch.float64):
    """Tune every method per n on `num_tune` prompts, then measure it on `num_eval` fresh prompts.

    Returns {method: {"n": [...], "risk": [...], "params": [...]}}. steps: k for gd and preprocess_gd.

    Notebooks: II.1
    """
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; choose from {sorted(METHODS)}")
    n_values = list(n_values)
    if not n_values or min(n_values) < 0:
        raise ValueError(f"n_values must be non-negative and not empty, got {n_values}")
    n_max = max(n_values)
    tune_prompts = sample_prompts(num_tune, d, s, n_max, sigma, torch.Generator().manual_seed(seed + 1), dtype)
    eval_prompts = sample_prompts(num_eval, d, s, n_max, sigma, torch.Generator().manual_seed(seed + 2), dtype)
    out = {}
    for m in methods:
        fixed = {"steps": steps} if m in ("gd", "preprocess_gd") else {}
        curve = {"n": [], "risk": [], "params": []}
        for n in n_values:
            params, _ = tune(m, tune_prompts.first(n), **fixed)
            curve["n"].append(n)
            curve["risk"].append(risk(m, eval_prompts.first(n), **params))
            curve["params"].append(params)
        out[m] = curve
    return out
