"""In-context sparse linear regression prompts: shapes, seeding, sparsity, noise-free targets, token layouts."""
import pytest
import torch

from attnlab import Config, Transformer, train
from attnlab.tasks.regression import SparseRegression, encode, excess_risk, sample_prompts


def test_shapes_and_sparsity():
    P = sample_prompts(50, d=8, s=3, n=5, sigma=0.1, generator=torch.Generator().manual_seed(0))
    assert P.X.shape == (50, 5, 8) and P.y.shape == (50, 5) and P.w.shape == (50, 8)
    assert P.x_query.shape == (50, 8) and P.y_query.shape == (50,) and P.target.shape == (50,)
    assert (P.support.sum(1) == 3).all()
    assert ((P.w != 0) == P.support).all()  # non-zero exactly on the support (almost surely)
    assert (P.n, P.d, P.batch_size) == (5, 8, 50)


def test_seeding():
    a = sample_prompts(10, generator=torch.Generator().manual_seed(3))
    b = sample_prompts(10, generator=torch.Generator().manual_seed(3))
    c = sample_prompts(10, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y) and torch.equal(a.w, b.w)
    assert not torch.equal(a.X, c.X)


def test_noise_free_target_and_noise_level():
    P = sample_prompts(4000, d=8, s=2, n=10, sigma=0.5, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(P.target, (P.w * P.x_query).sum(1), atol=1e-5)
    assert torch.allclose(P.clean, torch.einsum("bnd,bd->bn", P.X, P.w), atol=1e-5)
    noise = torch.cat([P.y - P.clean, (P.y_query - P.target)[:, None]], 1)
    assert abs(noise.std().item() - 0.5) < 0.02
    # w has variance 1/s per support coordinate: E[<w, x>^2] = 1, so predicting 0 has excess risk 1
    assert abs(P.clean.pow(2).mean().item() - 1.0) < 0.05
    assert excess_risk(torch.zeros_like(P.target), P.target).item() == pytest.approx(1.0, abs=0.1)
    noiseless = sample_prompts(5, sigma=0.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(noiseless.y, noiseless.clean)


def test_first_keeps_query():
    P = sample_prompts(4, n=6, generator=torch.Generator().manual_seed(0))
    Q = P.first(2)
    assert Q.X.shape == (4, 2, 8) and torch.equal(Q.x_query, P.x_query) and torch.equal(Q.X, P.X[:, :2])
    assert P.first(0).X.shape == (4, 0, 8)
    with pytest.raises(ValueError, match=r"k must lie in \[0, n=6\], got 7"):
        P.first(7)


def test_separate_layout():
    P = sample_prompts(3, d=4, s=1, n=2, generator=torch.Generator().manual_seed(0))
    t = encode(P, "separate")
    assert t.shape == (3, 5, 6)
    assert torch.equal(t[:, 0, :4], P.X[:, 0]) and torch.equal(t[:, 2, :4], P.X[:, 1]) and torch.equal(t[:, 4, :4], P.x_query)
    assert torch.equal(t[:, 1, 4], P.y[:, 0]) and torch.equal(t[:, 3, 4], P.y[:, 1])
    assert (t[:, 0::2, 5] == 1).all() and (t[:, 1::2, 5] == 0).all() and (t[:, 1::2, :4] == 0).all()


def test_joint_layout():
    P = sample_prompts(3, d=4, s=1, n=2, generator=torch.Generator().manual_seed(0))
    t = encode(P, "joint")
    assert t.shape == (3, 3, 6)
    assert torch.equal(t[:, :2, :4], P.X) and torch.equal(t[:, :2, 4], P.y) and (t[:, :2, 5] == 1).all()
    assert torch.equal(t[:, 2, :4], P.x_query) and (t[:, 2, 4:] == 0).all()


@pytest.mark.parametrize("layout", ["separate", "joint"])
def test_task_protocol(layout):
    task = SparseRegression(d=4, s=1, n=6, sigma=0.1, layout=layout)
    g = torch.Generator().manual_seed(0)
    inputs, targets = task.sample(16, g, "test")
    assert inputs.shape == (16, task.seq_len, task.input_dim)
    positions = 7 if layout == "separate" else 1
    assert targets.shape == (16, positions, 2)
    model = Transformer(Config(max_len=task.seq_len, output_dim=1, input_dim=task.input_dim, width=16, depth=1))
    out = model(inputs)
    loss = task.loss(out, targets)
    assert loss.dim() == 0 and loss.requires_grad
    assert isinstance(task.metric(out, targets), float)
    assert task.risk_by_position(out, targets).shape == (positions,)
    # the metric of the zero predictor is about 1 (the variance of the noise-free label)
    zero = torch.zeros(4000, task.seq_len, 1)
    _, big = task.sample(4000, torch.Generator().manual_seed(1), "test")
    assert abs(task.metric(zero, big) - 1.0) < 0.1
    if layout == "joint":  # training batches draw their own number of examples
        lengths = {task.sample(2, g, "train")[0].shape[1] for _ in range(30)}
        assert len(lengths) > 3 and max(lengths) <= task.seq_len


def test_training_reduces_risk():
    """A few hundred steps on an easy version (d = 2, dense) already beat predicting zero."""
    task = SparseRegression(d=2, s=2, n=6, sigma=0.0, layout="joint")
    torch.manual_seed(0)
    model = Transformer(Config(max_len=task.seq_len, output_dim=1, input_dim=task.input_dim, width=32, depth=1, heads=2))
    history = train(model, task, steps=300, batch_size=64, lr=3e-3, eval_every=300, progress=False)
    assert history.final < 0.6


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"sparsity s must lie in \[1, d=4\], got s=5"):
        sample_prompts(4, d=4, s=5)
    with pytest.raises(ValueError, match="noise sigma must be non-negative"):
        sample_prompts(4, sigma=-1)
    with pytest.raises(ValueError, match="layout must be one of .*got 'interleaved'"):
        SparseRegression(layout="interleaved")
    with pytest.raises(ValueError, match="train_on must be 'noisy' or 'clean'"):
        SparseRegression(train_on="both")
    with pytest.raises(ValueError, match="layout must be one of .*got 'nope'"):
        encode(sample_prompts(2), "nope")
    with pytest.raises(ValueError, match="split must be one of .*got 'validation'"):
        SparseRegression().sample(2, torch.Generator(), "validation")


@pytest.mark.parametrize("attention,causal", [("softmax", True), ("softmax", False), ("linear", True), ("linear", False)])
def test_several_private_queries_are_each_answered_as_if_alone(attention, causal):
    """queries=m: a training prompt ends in m query tokens, each with its own target; with
    Config(private_queries=True) and no position signal (the default's start), every query's prediction is exactly
    the one it gets alone after the examples, with causal or full-context attention, softmax or linear."""
    task = SparseRegression(d=4, s=1, n=6, sigma=0.1, layout="joint", queries=3)
    inputs, targets = task.sample(5, torch.Generator().manual_seed(0), "train")
    examples = inputs.shape[1] - 3
    assert targets.shape == (5, 3, 2) and (inputs[:, examples:, -1] == 0).all() and (inputs[:, :examples, -1] == 1).all()
    torch.manual_seed(0)
    model = Transformer(Config(max_len=task.seq_len, output_dim=1, input_dim=task.input_dim, width=16, depth=2,
                               heads=2, private_queries=True, attention=attention, causal=causal)).eval()
    with torch.no_grad():
        model.pos.weight.zero_()  # positions would tell the queries apart: here only the masking is under test
    together = task.predictions(model(inputs), targets)
    alone = torch.stack([model(torch.cat([inputs[:, :examples], inputs[:, examples + q:examples + q + 1]], 1))[:, -1, 0]
                         for q in range(3)], 1)
    assert torch.allclose(together, alone, atol=1e-5)
    _, cache = model.run_with_cache(inputs)  # the explicit path agrees with the fused one
    assert torch.allclose(cache["pattern"][0][:, :, examples + 1, examples], torch.zeros(5, 2))  # no query sees another
    test_inputs, test_targets = task.sample(5, torch.Generator().manual_seed(1), "test")
    assert test_targets.shape == (5, 1, 2) and test_inputs.shape[1] == task.n + 1  # the test split keeps one query
    with pytest.raises(ValueError, match="queries"):
        SparseRegression(layout="separate", queries=2)
