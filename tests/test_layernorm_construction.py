"""The transformer whose layer norm divides (attnlab.construction_layernorm): what it computes, against its
algorithm and an independent solver, and paper B's head pattern measured in it with Part II's tools."""
import itertools

import numpy as np
import pytest
import torch

from attnlab import analysis as an
from attnlab import construction_layernorm as cl
from attnlab.heads.config import claim_range
from attnlab.heads.run import make_task, prompts
from attnlab.tasks.regression import encode, sample_prompts


def predictions(model, P):
    return model(encode(P, "joint"))[:, -1, 0]


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_the_model_computes_its_algorithm_with_layer_norm_s_sizes(steps):
    """Equal to as_computed in float64, to the digits the anchors leave (about 1e-8 relative), for n = 0..2d."""
    g = torch.Generator().manual_seed(steps)
    for n in range(9):
        P = sample_prompts(100, d=4, s=1, n=n, generator=g, dtype=torch.float64)
        lrs = tuple((0.5 + 3.5 * torch.rand(steps, generator=g)).tolist())
        gamma, delta = 100 ** torch.rand(1, generator=g).item(), float(n % 2)
        torch.testing.assert_close(predictions(cl.build(4, lrs, gamma, delta), P),
                                   cl.as_computed(P.X, P.y, P.x_query, lrs, gamma, delta), rtol=1e-6, atol=1e-6)


def test_with_larger_anchors_it_computes_feature_gd():
    """The anchors are what keeps layer norm from dividing where the algorithm does not: as they grow, layer norm's
    exact sizes give the plain algorithm; with the default ones its risk is within 1e-4 of it."""
    P = sample_prompts(2000, d=4, s=1, n=3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    args = (P.X, P.y, P.x_query, (1.0, 1.5, 4.0), 30.0, 1.0)
    plain = cl.feature_gd(*args)
    gaps = [(cl.as_computed(*args, anchors={k: scale * v for k, v in cl.ANCHORS.items()}) - plain).abs().max().item()
            for scale in (0.1, 1.0, 10.0)]
    assert gaps[0] > 5 * gaps[1] > 25 * gaps[2], gaps  # the largest distance over 2000 prompts
    risk = lambda pred: ((pred - P.target) ** 2).mean().item()  # noqa: E731
    assert abs(risk(predictions(cl.build(4, *args[3:]), P)) - risk(plain)) < 1e-4


def test_feature_gd_converges_to_the_least_norm_fit_numpy_finds():
    """Many small steps of gradient descent from 0 end at the least-norm solution of the divided examples' system,
    which numpy's lstsq finds on its own (n = 3 examples, 2d = 8 features)."""
    P = sample_prompts(20, d=4, s=1, n=3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    gamma, delta = 3.0, 1.0
    got = cl.feature_gd(P.X, P.y, P.x_query, (1.5,) * 20000, gamma, delta)
    for b in range(20):
        X, y, q = P.X[b].numpy(), P.y[b].numpy(), P.x_query[b].numpy()
        c = (X * y[:, None]).mean(0)
        F, f_q = np.hstack([X, gamma * X * c]), np.concatenate([q, gamma * q * c])
        size = np.sqrt((F ** 2).sum(1) + delta * y ** 2)
        v = np.linalg.lstsq(F / size[:, None], y / size, rcond=None)[0]
        assert abs(got[b].item() - v @ f_q) < 1e-8


def test_the_order_of_the_rates_does_not_matter():
    """Why the grid holds each set of rates once: steps from v = 0 commute, so every order predicts the same."""
    P = sample_prompts(200, d=4, s=1, n=3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    orders = [cl.feature_gd(P.X, P.y, P.x_query, lrs, 10.0, 1.0) for lrs in itertools.permutations((0.5, 2.0, 4.0))]
    for other in orders[1:]:
        torch.testing.assert_close(other, orders[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_tune_chooses_what_trying_every_setting_in_turn_chooses(steps):
    """The batched tuner against the plain loop: feature_gd on each setting of the grid, the first within rtol of
    the least error. n = 1 holds exact ties (every sequence of rates with a 1 fits one example exactly)."""
    grid = cl.grid(steps)
    settings = [dict(zip(sorted(grid), values)) for values in itertools.product(*(grid[k] for k in sorted(grid)))]
    g = torch.Generator().manual_seed(steps)
    for n in range(4):
        P = sample_prompts(300, d=4, s=1, n=n, generator=g, dtype=torch.float64)
        risks = [((cl.feature_gd(P.X, P.y, P.x_query, **p) - P.target) ** 2).mean().item() for p in settings]
        looped = next(p for p, risk in zip(settings, risks) if risk <= min(risks) * (1 + 1e-12))
        assert cl.tune(P.X, P.y, P.x_query, P.target, steps) == looped, (n, looped)


def test_paper_b_s_pattern_is_in_it_by_measurement():
    """Every first-layer head matters (d that each compute one coordinate's reweighting, one that lets layer norm
    divide the examples, one that stops it dividing the query); one head left in layer 1 costs far more than 30%;
    each later layer's work is one head's, and pruning to it costs nothing."""
    task = make_task()
    n_values = claim_range(task)
    P = prompts(task, 0, "measure", 200).to(dtype=torch.float64)
    model = cl.build(task.d, (1.0, 1.5, 4.0), 30.0, 1.0, max_len=task.seq_len)
    importance = an.head_importance(model, task, P, n_values)
    assert (importance[0] > 0.05).all(), importance[0]
    assert (importance[1:, 0] > 0.01).all() and (importance[1:, 1:] == 0).all()
    pruning = an.pruning_risks(model, task, P, importance, n_values=n_values)
    assert pruning["pruned"] == pytest.approx(pruning["full"], rel=0.01)
    assert pruning["first_layer_one_head"] >= 1.3 * pruning["full"]


def test_bad_settings_are_refused_before_any_work():
    P = sample_prompts(4, d=4, s=1, n=2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for bad in (dict(lrs=(1.0, -1.0)), dict(gamma=-1.0), dict(delta=-0.5)):
        with pytest.raises(ValueError, match="non-negative"):
            cl.feature_gd(P.X, P.y, P.x_query, **bad)
        with pytest.raises(ValueError, match="non-negative"):
            cl.build(4, **bad)
        with pytest.raises(ValueError, match="non-negative"):
            cl.as_computed(P.X, P.y, P.x_query, **bad)
    with pytest.raises(ValueError, match="at least one lr"):
        cl.build(4, lrs=())
