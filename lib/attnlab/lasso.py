"""The Lasso, solved exactly: min over w of (1/2n) ||X w - y||^2 + lam ||w||_1, for a batch of prompts at once
(attnlab.baselines.lasso predicts with it)."""
import math

import torch


def lasso_weights(X, y, lam):
    """(B, d) minimiser of (1/2n) ||X w - y||^2 + lam ||w||_1, exact, by the Lasso's homotopy (LARS-Lasso).

    Why not coordinate descent: with fewer examples than dimensions and a small lam the problem is nearly
    flat along the null space of X, and coordinate descent creeps along it for thousands of sweeps. The
    homotopy instead follows the solution path w(t) from t = max_j |X^T y|_j / n (where w = 0) down to t = lam:
    between two breakpoints w is linear in t, so each step moves straight to the next breakpoint, where a
    coordinate joins the active set (its correlation reaches t) or leaves it (its weight crosses 0). Every
    prompt of the batch walks its own path; the loop runs until all have reached lam (a few times d steps).
    """
    B, n, d = X.shape
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    if n == 0:
        return X.new_zeros(B, d)
    X64, y64 = X.double(), y.double()  # breakpoints are differences of nearly equal numbers: float64
    G = X64.transpose(1, 2) @ X64 / n  # (B, d, d)
    c0 = (X64.transpose(1, 2) @ y64[..., None])[..., 0] / n  # (B, d): correlations at w = 0
    w = torch.zeros_like(c0)
    level = c0.abs().amax(1)  # (B,) the path's current t; w = 0 is optimal for every t >= this
    tiny = 1e-12 * level.clamp(min=1e-300)[:, None]
    active = torch.zeros_like(c0, dtype=torch.bool)
    active[torch.arange(B), c0.abs().argmax(1)] = True
    sign = torch.sign(c0) * active
    for _ in range(100 * d):  # a safety cap: paths take a few times d steps
        running = level > lam
        if not running.any():
            break
        # Direction: on the active set, d w_A / d(-t) = G_AA^-1 sign_A; off it, 0.
        pair = active[:, :, None] & active[:, None, :]
        system = torch.where(pair, G, torch.zeros_like(G)) + torch.diag_embed((~active).double())
        u = torch.linalg.solve(system, sign[..., None])[..., 0] * active
        a = (G @ u[..., None])[..., 0]  # how fast each correlation falls as t falls
        c = c0 - (G @ w[..., None])[..., 0]
        inf = torch.full_like(c, math.inf)
        join = torch.minimum(torch.where(1 - a > tiny, (level[:, None] - c) / (1 - a), inf),
                             torch.where(1 + a > tiny, (level[:, None] + c) / (1 + a), inf))
        join = torch.where(~active & (join > tiny), join, inf)
        drop = torch.where(active & (u * w < 0), -w / u, inf)
        drop = torch.where(drop > tiny, drop, inf)
        join_step, joiner = join.min(1)
        drop_step, dropper = drop.min(1)
        breakpoint = torch.minimum(join_step, drop_step)
        at_lam = level - lam <= breakpoint  # this prompt's path reaches lam before its next breakpoint
        step = torch.where(at_lam, level - lam, breakpoint) * running
        w = w + step[:, None] * u
        level = torch.where(at_lam & running, torch.full_like(level, lam), level - step)
        rows = torch.arange(B)[running & ~at_lam]  # prompts that stopped at a breakpoint
        joins = rows[join_step[rows] <= drop_step[rows]]
        drops = rows[join_step[rows] > drop_step[rows]]
        c_after = c0 - (G @ w[..., None])[..., 0]
        active[joins, joiner[joins]] = True
        sign[joins, joiner[joins]] = torch.sign(c_after[joins, joiner[joins]])
        active[drops, dropper[drops]] = False
        sign[drops, dropper[drops]] = 0
        w[drops, dropper[drops]] = 0
    else:
        raise RuntimeError(f"the Lasso homotopy did not reach lam={lam} in {100 * d} steps (a degenerate prompt?)")
    return w.to(X.dtype)


def lasso_kkt_violation(X, y, w, lam):
    """(B,) how far w is from the Lasso's optimality (KKT) conditions; 0 at the exact minimiser.

    With g = (1/n) X^T (y - X w): g_j = lam * sign(w_j) where w_j != 0, and |g_j| <= lam where w_j = 0.
    """
    n = X.shape[1]
    g = (X.transpose(1, 2) @ (y - (X @ w[..., None])[..., 0])[..., None])[..., 0] / n
    active = w != 0
    on = (g - lam * torch.sign(w)).abs()
    off = torch.clamp(g.abs() - lam, min=0)
    return torch.where(active, on, off).amax(dim=1)
