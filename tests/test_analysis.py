"""Head importance, pruning and probing on tiny models trained in a few seconds."""
from dataclasses import replace

import pytest
import torch

from attnlab import Config, Transformer, train
from attnlab import analysis as an
from attnlab.tasks.regression import SparseRegression, sample_prompts


@pytest.fixture(scope="module")
def trained():
    """A 2-layer, 2-head model on an easy task (d = 2, dense, joint tokens): it learns in a few hundred steps."""
    task = SparseRegression(d=2, s=2, n=6, sigma=0.0, layout="joint")
    torch.manual_seed(0)
    model = Transformer(Config(max_len=task.seq_len, output_dim=1, input_dim=task.input_dim, width=32, depth=2,
                               heads=2, mlp=True))
    history = train(model, task, steps=400, batch_size=64, lr=3e-3, eval_every=400, progress=False)
    assert history.final < 0.5
    g = torch.Generator().manual_seed(123)
    return model, task, task.prompts(1000, g), task.prompts(1000, g)


def test_risk_by_n(trained):
    model, task, P, _ = trained
    curve = an.risk_by_n(model, task, P)
    assert curve.shape == (7,)
    assert curve[0] > 0.7  # no examples: nothing to go on
    assert curve[6] < 0.5 * curve[0]  # more examples help
    assert an.mean_risk(model, task, P, n_values=[6]) == pytest.approx(curve[6].item())


def test_masking_every_head_raises_risk(trained):
    model, task, P, _ = trained
    full = an.mean_risk(model, task, P)
    for layer in range(2):
        mask = torch.ones(2, 2)
        mask[layer] = 0
        assert an.mean_risk(model, task, P, head_mask=mask) > 1.2 * full
    importance = an.head_importance(model, task, P)
    assert importance.shape == (2, 2) and torch.isfinite(importance).all()
    assert importance.max() > 0  # at least one head matters
    shares = an.importance_shares(importance)
    assert torch.allclose(shares.sum(1), torch.ones(2)) and (shares >= 0).all()


def test_importance_is_the_rise_in_risk(trained):
    model, task, P, _ = trained
    importance = an.head_importance(model, task, P, n_values=[3])
    mask = torch.ones(2, 2)
    mask[1, 0] = 0
    rise = an.mean_risk(model, task, P, mask, [3]) - an.mean_risk(model, task, P, None, [3])
    assert importance[1, 0].item() == pytest.approx(rise, rel=1e-5, abs=1e-7)


def test_pruning_masks():
    importance = torch.tensor([[0.1, 0.5, 0.2], [0.0, 0.3, 0.9], [0.4, -0.1, 0.0]])
    assert torch.equal(an.pruning_mask(importance, "full"), torch.ones(3, 3))
    assert torch.equal(an.pruning_mask(importance, "pruned"),
                       torch.tensor([[1.0, 1, 1], [0, 0, 1], [1, 0, 0]]))
    assert torch.equal(an.pruning_mask(importance, "first_layer_one_head"),
                       torch.tensor([[0.0, 1, 0], [0, 0, 1], [1, 0, 0]]))
    shares = an.importance_shares(importance)
    assert shares[1, 2].item() == pytest.approx(0.75) and shares[2, 1].item() == 0
    assert torch.allclose(an.importance_shares(torch.zeros(1, 4)), torch.full((1, 4), 0.25))
    with pytest.raises(ValueError, match="separately trained"):
        an.pruning_mask(importance, "single_head_model")
    with pytest.raises(ValueError, match="variant must be one of"):
        an.pruning_mask(importance, "half")
    with pytest.raises(ValueError, match=r"importance must be \(layers, heads\), got shape \(3,\)"):
        an.pruning_mask(torch.ones(3), "full")


def test_pruning_risks(trained):
    model, task, P, _ = trained
    importance = an.head_importance(model, task, P)
    risks = an.pruning_risks(model, task, P, importance)
    assert set(risks) == {"full", "pruned", "first_layer_one_head"}
    assert risks["full"] == pytest.approx(an.mean_risk(model, task, P))


def test_probing_improves_with_depth(trained):
    model, task, P, Q = trained
    risks = an.probe(model, task, P, Q)
    assert risks.shape == (3,)
    assert risks[0] > 0.7  # the embedding of the query alone says nothing about this prompt's w
    assert risks[-1] < 0.6 * risks[0]
    with pytest.raises(ValueError, match="fit and eval prompts must have the same n"):
        an.probe(model, task, P.first(2), Q)
    with pytest.raises(ValueError, match="more fitting prompts"):
        an.probe(model, task, task.prompts(10, torch.Generator().manual_seed(0)), task.prompts(10))


def test_separate_layout_reads_every_x_token():
    """With separate tokens one pass gives every n: the prediction at the k-th x token is the model's answer to
    the prompt made of the first k examples with x_{k+1} as its query."""
    task = SparseRegression(d=4, s=1, n=5, layout="separate")
    torch.manual_seed(0)
    model = Transformer(Config(max_len=task.seq_len, output_dim=1, input_dim=task.input_dim, width=16, depth=2, heads=2))
    P = task.prompts(8, torch.Generator().manual_seed(0))
    preds, targets = an.predict_by_n(model, task, P)
    assert preds.shape == targets.shape == (8, 6)
    for k in range(5):
        Q = replace(P.first(k), x_query=P.X[:, k], target=P.clean[:, k])
        alone, target = an.predict_by_n(model, task, Q)
        assert torch.allclose(alone[:, -1], preds[:, k], atol=1e-5)
        assert torch.allclose(target[:, -1], targets[:, k])
    residuals = an.query_residuals(model, task, P)
    assert residuals.shape == (3, 8, 16)


def test_bad_input(trained):
    model, task, P, _ = trained
    other = SparseRegression(d=3, s=1, n=6, layout="joint")
    with pytest.raises(ValueError, match="the model must read vectors of task.input_dim"):
        an.risk_by_n(model, other, other.prompts(4))
    with pytest.raises(ValueError, match="prompts have d=3 but the task has d=2"):
        an.risk_by_n(model, task, sample_prompts(4, d=3, s=1, n=6))
    with pytest.raises(ValueError, match="prompts with n=30 need .* positions; the model has max_len"):
        an.risk_by_n(model, task, task.prompts(4, n=30))  # longer than the model's max_len
    with pytest.raises(ValueError, match="prompts must be attnlab.tasks.regression.Prompts, got tuple"):
        an.risk_by_n(model, task, (P.X, P.y))
    with pytest.raises(ValueError, match="n_values must be a non-empty subset of 0..6"):
        an.mean_risk(model, task, P, n_values=[7])
    with pytest.raises(ValueError, match=r"head_mask must have shape \(layers, heads\)"):
        an.risk_by_n(model, task, P, head_mask=torch.ones(3, 2))


def test_heads_pipeline_pieces(tmp_path):
    """The reproduction's pieces on a few training steps: training, analysis, the checks and the figures."""
    from attnlab import heads

    task = heads.make_task(n=6)
    run = heads.train_run(2, 2, seed=0, progress=False, task=task, training=dict(steps=30, eval_every=30))
    assert len(run.history.metric) == 1 and run.layers == 2 and run.label == "linear L=2 H=2"
    result = heads.analyse(run.model, task, seed=0, num_prompts=300)
    assert len(result.risk_by_n) == 7 and len(result.probing) == 3
    assert set(result.pruning) == {"full", "pruned", "first_layer_one_head"}
    with pytest.raises(ValueError, match="layers and heads must be at least 1"):
        heads.train_run(0, 2, progress=False)
    with pytest.raises(ValueError, match=r"training takes keys of heads.TRAINING"):
        heads.train_run(2, 2, progress=False, training=dict(width=8))
    with pytest.raises(ValueError, match="give at least one seed"):
        heads.reproduce([], tmp_path)


def fake_reproduction(transformer_scale=0.5, later_top=0.8):
    """Rows in the reproduction's format for one seed, with the transformer's risk curve scaled by
    transformer_scale (ridge's is 1 / (n + 1)) and each later layer's top head at later_top of its layer."""
    from attnlab import heads

    L, H = heads.LAYERS, heads.HEADS
    fake = {"kind": "heads", "risk": [], "importance": [], "pruning": [], "probing": [], "probing_reference": []}
    curves = {("transformer", "linear"): transformer_scale, ("transformer", "softmax"): 0.9, ("ridge", None): 1,
              ("gd", None): 1.1, ("preprocess_gd", None): 0.8, ("lasso", None): 0.6, ("oracle", None): 0.1}
    for n in range(heads.TASK["n"] + 1):
        for (method, attention), scale in curves.items():
            shape = {"attention": attention, "layers": L, "heads": H} if attention else {"layers": None, "heads": None}
            fake["risk"].append({"method": method, **shape, "seed": 0, "n": n, "risk": scale / (n + 1)})
    for layer in range(L):
        for head in range(H):
            value = 0.1 if layer == 0 else (later_top if head == 0 else (1 - later_top) / (H - 1))
            fake["importance"].append({"attention": "linear", "layers": L, "heads": H, "seed": 0, "layer": layer,
                                       "head": head, "importance": value})
            # the softmax contrast's rows, which the claims about the default model must not read
            fake["importance"].append({"attention": "softmax", "layers": L, "heads": H, "seed": 0, "layer": layer,
                                       "head": head, "importance": 1.0 if head == 0 else 0.0})
    for variant, value in (("full", 0.1), ("pruned", 0.105), ("first_layer_one_head", 0.5)):
        fake["pruning"].append({"layers": L, "heads": H, "seed": 0, "variant": variant, "risk": value})
    for attention in ("linear", "softmax"):
        for layer in range(L + 1):
            fake["probing"].append({"attention": attention, "layers": L, "heads": H, "seed": 0, "layer": layer,
                                    "risk": 1.0 / (layer + 1)})
    return fake


def test_the_claims_follow_the_numbers_they_rest_on(tmp_path):
    """check_bar on rows built to pass every claim, then on rows that break one claim each: exactly that claim
    fails, and summarize counts it. The figures draw from the same rows."""
    from attnlab import heads

    claims = heads.check_bar(fake_reproduction())[0]
    assert claims and all(c.holds for c in claims), [c for c in claims if not c.holds]
    by_key = {c.key: c for c in claims}
    assert set(by_key) == set(heads.CLAIM_KEYS)
    worse = heads.check_bar(fake_reproduction(transformer_scale=0.7))[0]  # above the Lasso (0.6), below ridge
    assert [c.key for c in worse if not c.holds] == ["beats_baselines"]
    spread = heads.check_bar(fake_reproduction(later_top=0.4))[0]
    assert [c.key for c in spread if not c.holds] == ["later_layers_concentrated"]
    summary = {row[0]: row[2:] for row in heads.summarize({0: claims, 1: spread})}
    held, count, median, worst = summary["later_layers_concentrated"]
    assert (held, count) == (1, 2) and worst == pytest.approx(0.4) and median == pytest.approx(0.6)
    assert by_key["below_ridge_at_d"].value == pytest.approx(0.5)
    paths = heads.plot(fake_reproduction(), tmp_path)
    assert len(paths) == 4 and all(p.exists() for p in paths)
