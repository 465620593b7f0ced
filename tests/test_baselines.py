"""Baselines for in-context sparse linear regression: closed forms, optimality, and who beats whom."""
import pytest
import torch
from sklearn.linear_model import Lasso  # an independent solver, for the tests only

from attnlab import baselines as bl
from attnlab.tasks.regression import sample_prompts


def prompts(B=200, n=6, d=8, s=2, sigma=0.1, seed=0):
    return sample_prompts(B, d, s, n, sigma, torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_ridge_matches_closed_form():
    P = prompts(B=5)
    lam = 0.3
    pred = bl.ridge(P.X, P.y, P.x_query, lam=lam)
    for b in range(5):
        X, y = P.X[b], P.y[b]
        w = torch.linalg.inv(X.T @ X + lam * torch.eye(8, dtype=X.dtype)) @ X.T @ y
        assert pred[b].item() == pytest.approx((w @ P.x_query[b]).item(), abs=1e-9)


def test_gd_matches_hand_iteration():
    P = prompts(B=4, n=5)
    k, lr = 4, 0.7
    pred = bl.gd(P.X, P.y, P.x_query, steps=k, lr=lr)
    for b in range(4):
        X, y, n = P.X[b], P.y[b], 5
        L = torch.linalg.eigvalsh(X.T @ X / n).max()
        w = torch.zeros(8, dtype=X.dtype)
        for _ in range(k):
            w = w - (lr / L) * X.T @ (X @ w - y) / n
        assert pred[b].item() == pytest.approx((w @ P.x_query[b]).item(), abs=1e-9)
    assert torch.equal(bl.gd(P.X, P.y, P.x_query, steps=0), torch.zeros(4, dtype=P.X.dtype))


def test_gd_converges_to_least_squares():
    P = prompts(B=20, n=30)
    w_ls = torch.linalg.lstsq(P.X, P.y[..., None]).solution[..., 0]
    pred = bl.gd(P.X, P.y, P.x_query, steps=2000, lr=1.0)
    assert torch.allclose(pred, (w_ls * P.x_query).sum(1), atol=1e-6)


@pytest.mark.parametrize("n", [1, 3, 8, 20])
def test_lasso_satisfies_kkt(n):
    P = prompts(B=100, n=n)
    lam = 0.05
    w = bl.lasso_weights(P.X, P.y, lam)
    assert bl.lasso_kkt_violation(P.X, P.y, w, lam).max().item() < 1e-9
    assert (w == 0).any()  # the l1 penalty sets coordinates exactly to zero
    # and a perturbed solution violates them
    assert bl.lasso_kkt_violation(P.X, P.y, w + 0.05, lam).min().item() > 1e-3


def test_lasso_with_huge_lambda_predicts_zero_and_tiny_lambda_is_least_squares():
    P = prompts(B=10, n=30)
    assert torch.equal(bl.lasso(P.X, P.y, P.x_query, lam=100.0), torch.zeros(10, dtype=P.X.dtype))
    w_ls = torch.linalg.lstsq(P.X, P.y[..., None]).solution[..., 0]
    assert torch.allclose(bl.lasso_weights(P.X, P.y, 0.0), w_ls, atol=1e-9)


def lasso_objective(X, y, w, lam):
    return ((X @ w - y) ** 2).sum() / (2 * len(y)) + lam * w.abs().sum()


@pytest.mark.parametrize("d, n", [(4, 1), (4, 3), (8, 2), (8, 7), (16, 3), (8, 12)])
@pytest.mark.parametrize("lam", [0.001, 0.01, 0.1])
def test_lasso_reaches_scikit_learns_optimum(d, n, lam):
    # scikit-learn's Lasso minimises the same objective ((1/2n) ||Xw - y||^2 + alpha ||w||_1, no intercept).
    # The hard cases are n < d with a small penalty, where the objective is nearly flat along X's null space.
    P = prompts(B=40, n=n, d=d, seed=d * 100 + n)
    w = bl.lasso_weights(P.X, P.y, lam)
    for b in range(40):
        X, y = P.X[b], P.y[b]
        reference = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(X.numpy(), y.numpy())
        best = lasso_objective(X, y, torch.from_numpy(reference.coef_), lam)
        assert lasso_objective(X, y, w[b], lam) <= best * (1 + 1e-7) + 1e-12


def test_lasso_works_in_float32():
    P = prompts(B=50, n=3)
    w32 = bl.lasso_weights(P.X.float(), P.y.float(), 0.01)
    assert w32.dtype == torch.float32
    assert torch.allclose(w32.double(), bl.lasso_weights(P.X, P.y, 0.01), atol=1e-4)


def test_oracle_uses_only_the_support_and_beats_ridge_at_small_n():
    tune, test = prompts(B=1000, n=4, seed=1), prompts(B=2000, n=4, seed=2)
    params, _ = bl.tune("ridge", tune)
    oparams, _ = bl.tune("oracle", tune)
    r_ridge, r_oracle = bl.risk("ridge", test, **params), bl.risk("oracle", test, **oparams)
    assert r_oracle < 0.3 * r_ridge
    # changing X off the support does not change the oracle
    P = prompts(B=5, n=4)
    X2 = P.X + 10.0 * (~P.support)[:, None, :]
    assert torch.allclose(bl.oracle(P.X, P.y, P.x_query, P.support), bl.oracle(X2, P.y, P.x_query, P.support))


def test_no_examples_predict_zero():
    P = prompts(B=3, n=0)
    for m in bl.METHODS:
        assert torch.equal(bl.predict(m, P), torch.zeros(3, dtype=P.X.dtype)), m


def test_preprocess_with_power_zero_is_gd():
    P = prompts(B=50, n=5)
    assert torch.allclose(bl.preprocess_gd(P.X, P.y, P.x_query, steps=3, lr=0.9, power=0.0),
                          bl.gd(P.X, P.y, P.x_query, steps=3, lr=0.9))


def test_preprocess_then_optimize_beats_gd_and_ridge_below_d():
    """Tuned on 600 prompts per n, measured on 2000 others: preprocess-then-optimize (k = 10) beats plain
    gradient descent with the same k and tuned ridge, averaged over n in s..d-1, and at each of them."""
    k = 10
    tune_all, test_all = prompts(B=600, n=7, seed=10), prompts(B=2000, n=7, seed=11)
    wins = []
    for n in (2, 4, 6):
        tune, test = tune_all.first(n), test_all.first(n)
        r = {}
        for m in ("ridge", "gd", "preprocess_gd"):
            fixed = {"steps": k} if m != "ridge" else {}
            params, _ = bl.tune(m, tune, **fixed)
            r[m] = bl.risk(m, test, **params)
        wins.append(r)
        assert r["preprocess_gd"] < r["gd"], (n, r)
        assert r["preprocess_gd"] < r["ridge"], (n, r)
    mean = {m: sum(w[m] for w in wins) / len(wins) for m in wins[0]}
    assert mean["preprocess_gd"] < 0.95 * min(mean["gd"], mean["ridge"]), mean


def test_risk_curves_shapes():
    c = bl.risk_curves(d=4, s=1, n_values=[0, 2, 4], methods=("ridge", "gd"), num_tune=100, num_eval=100)
    assert set(c) == {"ridge", "gd"} and c["gd"]["n"] == [0, 2, 4] and len(c["ridge"]["risk"]) == 3
    assert c["gd"]["params"][1]["steps"] == 3


def test_bad_arguments():
    P = prompts(B=2, n=3)
    with pytest.raises(ValueError, match="shapes disagree"):
        bl.ridge(P.X, P.y[:, :2], P.x_query)
    with pytest.raises(ValueError, match="ridge lam must be non-negative, got -1"):
        bl.ridge(P.X, P.y, P.x_query, lam=-1)
    with pytest.raises(ValueError, match="steps and lr must be non-negative, got steps=-1"):
        bl.gd(P.X, P.y, P.x_query, steps=-1)
    with pytest.raises(ValueError, match="method must be one of .*got 'svm'"):
        bl.predict("svm", P)
    with pytest.raises(ValueError, match="method must be one of .*got 'svm'"):
        bl.tune("svm", P)
    with pytest.raises(ValueError, match="unknown method 'svm'"):
        bl.risk_curves(methods=("svm",))
    with pytest.raises(ValueError, match=r"support must have shape \(2, 8\), got \(2, 3\)"):
        bl.oracle(P.X, P.y, P.x_query, P.support[:, :3])
