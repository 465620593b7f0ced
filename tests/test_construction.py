"""The hand-built preprocess-then-optimize transformer (attnlab.construction) and its plain algorithm."""
import pytest
import torch

from attnlab import analysis as an
from attnlab import baselines as bl
from attnlab import construction
from attnlab.tasks.regression import SparseRegression, encode, sample_prompts


def closed_form(X, y, x_query, steps, lr, beta):
    """Preconditioned gradient descent from zero in closed form: w_k = sum_{t<k} (I - lr P H)^t lr P X^T y / n."""
    B, n, d = X.shape
    c = torch.einsum("bnd,bn->bd", X, y) / n
    P = torch.diag_embed(1 + beta * c ** 2)
    H = X.transpose(1, 2) @ X / n
    step = torch.eye(d, dtype=X.dtype) - lr * P @ H
    b = lr * (P @ (X.transpose(1, 2) @ y[..., None]))[..., 0] / n
    w = sum((torch.linalg.matrix_power(step, t) @ b[..., None])[..., 0] for t in range(steps))
    return (w * x_query).sum(-1)


@pytest.mark.parametrize("n", [1, 3, 12])
def test_correlation_gd_is_preconditioned_gradient_descent(n):
    P = sample_prompts(40, d=6, s=2, n=n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    for steps, lr, beta in ((1, 0.1, 0.0), (4, 0.05, 0.7), (9, 0.02, 3.0)):
        torch.testing.assert_close(bl.correlation_gd(P.X, P.y, P.x_query, steps, lr, beta),
                                   closed_form(P.X, P.y, P.x_query, steps, lr, beta))
    # beta = 0 and many small steps on a well-posed problem: least squares (torch's lstsq, not ours)
    Q = sample_prompts(20, d=4, s=1, n=40, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    w = torch.linalg.lstsq(Q.X, Q.y[..., None]).solution[..., 0]
    torch.testing.assert_close(bl.correlation_gd(Q.X, Q.y, Q.x_query, 3000, 0.2, 0.0), (w * Q.x_query).sum(-1))


@pytest.mark.parametrize("d,steps", [(1, 1), (3, 2), (4, 3), (8, 2)])
def test_the_construction_computes_the_plain_algorithm_exactly(d, steps):
    """In float64 the transformer's prediction at the query equals correlation_gd's to 1e-6 (in fact to about
    1e-12), for n = 0, n < d and n > d, with random lr and beta."""
    g = torch.Generator().manual_seed(d + steps)
    for n in (0, 1, max(1, d - 1), 2 * d + 1):
        P = sample_prompts(64, d=d, s=1, n=n, generator=g, dtype=torch.float64)
        lr, beta = 0.02 + 0.1 * torch.rand(1, generator=g).item(), 2 * torch.rand(1, generator=g).item()
        model = construction.build(d, steps, lr, beta, dtype=torch.float64)
        got = model(encode(P, "joint"))[:, -1, 0]
        want = bl.correlation_gd(P.X, P.y, P.x_query, steps, lr, beta)
        assert (got - want).abs().max() <= 1e-6 * (1 + want.abs().max()), (n, (got - want).abs().max())


def test_its_head_pattern_holds_by_design():
    """Every first-layer head is used, exactly one head in each later layer, so pruning to it changes nothing;
    the layer's other heads have no effect at all. And the construction is a model like any other: the
    library's masking, pruning and probing apply unchanged."""
    d, steps = 4, 2
    task = SparseRegression(d=d, s=1, n=d, layout="joint")
    model = construction.build(d, steps, lr=0.05, beta=0.01, max_len=task.seq_len)  # a step that helps
    P = task.prompts(400, torch.Generator().manual_seed(0))
    effect = an.head_effect(model, task, P, range(1, d + 1))
    assert (effect[0] > 0).all()
    assert (effect[1:, 0] > 0).all() and (effect[1:, 1:] == 0).all()
    importance = an.head_importance(model, task, P, range(1, d + 1))
    risks = an.pruning_risks(model, task, P, importance, n_values=range(1, d + 1))
    assert risks["pruned"] == pytest.approx(risks["full"], abs=1e-6)
    probe = an.probe(model, task, task.prompts(2000, torch.Generator().manual_seed(1)),
                     task.prompts(2000, torch.Generator().manual_seed(2)))
    # x_q alone says nothing (risk about 1); the reweighted x_q * c already holds one step's answer
    assert probe[0] > 0.8 and probe[1] < 0.8 * probe[0], probe
    # With beta = 0 the first layer's output is never read: the construction is plain fixed-step gd.
    plain = construction.build(d, steps, lr=0.1, beta=0.0, max_len=task.seq_len)
    assert (an.head_effect(plain, task, P)[0] == 0).all()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="need d >= 1 and steps >= 0"):
        construction.build(0, 2, 0.1, 0.1)
    with pytest.raises(ValueError, match="lr and beta must be non-negative"):
        construction.build(3, 2, -0.1, 0.1)
