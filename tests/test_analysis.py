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


def test_zero_ablation_is_the_head_mask_and_errors_are_per_prompt(trained):
    model, task, P, _ = trained
    mask = torch.tensor([[1.0, 0], [0, 1]])
    with an.ablated(model, mask):
        hooked = an.errors_by_n(model, task, P)
    assert torch.allclose(hooked, an.errors_by_n(model, task, P, head_mask=mask), atol=1e-6)
    assert hooked.shape == (1000, 7) and torch.allclose(hooked.mean(0), an.risk_by_n(model, task, P, mask), atol=1e-6)
    assert torch.equal(an.risk_by_n(model, task, P), an.risk_by_n(model, task, P))  # the hooks are gone again
    with pytest.raises(ValueError, match=r"mask must be a \(layers, heads\) = \(2, 2\) tensor of 0 and 1"):
        with an.ablated(model, torch.ones(3, 2)):
            pass


def test_mean_ablation_replaces_a_head_by_its_mean_for_that_n_and_position(trained):
    """The means are those of each head's output (run_with_cache's z) over the prompts. On one prompt a head's mean
    is its own output, so mean-ablation changes nothing there, while zero-ablation does; on many prompts it removes
    what the head says about each prompt, and the risk rises."""
    model, task, P, _ = trained
    means = an.head_means(model, task, P)
    assert sorted(means) == list(range(1, 8))  # one pass per n = 0..6 in the joint layout
    _, cache = model.run_with_cache(task.encode(P.first(3)))
    assert torch.allclose(means[4][1, :, 16:32], cache["z"][1][:, 1].mean(0), atol=1e-6)  # layer 2, head 2
    one = P.first(6)
    one = type(one)(**{name: value[:1] for name, value in vars(one).items()})
    importance = {kind: an.head_importance(model, task, one, kind=kind) for kind in an.ABLATIONS}
    assert importance["mean"].abs().max() < 1e-5 and importance["zero"].abs().max() > 1e-3
    assert an.head_importance(model, task, P, kind="mean").max() > 0.01
    with pytest.raises(ValueError, match="kind must be one of"):
        an.head_importance(model, task, P, kind="resample")


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
    mean = an.pruning_risks(model, task, P, importance, kind="mean")
    assert mean["full"] == pytest.approx(risks["full"]) and mean["pruned"] != pytest.approx(risks["pruned"])


def test_training_with_heads_removed_never_moves_them():
    """heads.train_with_heads_removed: the removed heads' weights stay at their initial values (no gradient reaches
    them), the kept ones train; so the model is one with fewer heads, of the same width each."""
    from attnlab import heads

    task = heads.make_task()
    model = heads.make_model(task, layers=2, heads=4, seed=0, width=16)
    before = {name: w.clone() for name, w in model.state_dict().items()}
    mask = heads.architecture_mask((4, 1), heads=4)
    assert torch.equal(mask, torch.tensor([[1.0, 1, 1, 1], [1, 0, 0, 0]]))
    heads.train_with_heads_removed(model, task, mask, 0, dict(steps=20, eval_every=20, lr=3e-3), progress=False)
    qkv, out = model.blocks[1].attn.qkv.weight, model.blocks[1].attn.out.weight
    old_qkv, old_out = before["blocks.1.attn.qkv.weight"], before["blocks.1.attn.out.weight"]
    removed = [i for part in range(3) for i in range(16 * part + 4, 16 * part + 16)]  # heads 2-4 of q, k and v
    assert torch.equal(qkv[removed], old_qkv[removed]) and torch.equal(out[:, 4:], old_out[:, 4:])
    assert not torch.equal(qkv[:4], old_qkv[:4]) and not torch.equal(out[:, :4], old_out[:, :4])
    with pytest.raises(ValueError, match="heads_per_layer must be a non-empty list of counts from 1 to 4"):
        heads.architecture_mask((4, 0), heads=4)


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


def fake_reproduction(transformer_scale=0.5, later_top=0.8, paired_high=-0.01, layer1_mean=0.1, h11=1.05, one_hh=1.4,
                      fine_tuned=0.105):
    """Rows in the reproduction's format for one seed, with the transformer's risk curve scaled by
    transformer_scale (ridge's is 1 / (n + 1)) and each later layer's top head at later_top of its layer; the
    layer contrast's rows with the upper end of the transformer's paired intervals against ridge, gd and Lasso at
    paired_high, each layer-1 head's rise by mean-ablation at layer1_mean (each later layer sums to 0.5), (H, 1, 1)
    and (1, H, H) at h11 and one_hh times (H, H, H), and the pruned model fine-tuned at fine_tuned (full: 0.1)."""
    from attnlab import heads

    L, H = heads.LAYERS, heads.HEADS
    fake = {"kind": "heads", "risk": [], "importance": [], "pruning": [], "probing": [], "probing_reference": [],
            "ablation": [], "architectures": [], "paired": []}
    for layer in range(1, L + 1):
        for head in range(1, H + 1):
            rise = layer1_mean if layer == 1 else 0.5 / H
            fake["ablation"].append({"seed": 0, "layer": layer, "head": head, "kind": "mean", "risk": 0.1 + rise,
                                     "rise": rise})
    for heads_per_layer, ratio in zip(heads.ARCHITECTURES, (1, h11, one_hh, 2)):
        fake["architectures"].append({"seed": 0, "heads_per_layer": list(heads_per_layer), "risk": 0.1 * ratio})
    fake["pruning"].append({"seed": 0, "variant": "pruned", "kind": "zero", "fine_tune_steps": 2000, "risk": fine_tuned})
    for method in ("ridge", "gd", "lasso"):
        fake["paired"].append({"seed": 0, "a": f"linear L={L} H={H}", "b": method, "ns": [1, 2, 3, 4],
                               "mean_diff": paired_high - 0.05, "ci": [paired_high - 0.1, paired_high]})
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
    for change, key in [(dict(paired_high=0.01), "beats_baselines_paired"),
                        (dict(layer1_mean=0.05), "layer1_matters_most_by_mean_ablation"),
                        (dict(h11=1.2), "trained_one_head_later_within_10pct"),
                        (dict(one_hh=1.2), "trained_one_head_in_layer1_costs_30pct"),
                        (dict(fine_tuned=0.12), "fine_tuned_pruning_keeps_risk")]:
        broken = heads.check_bar(fake_reproduction(**change))[0]
        assert [c.key for c in broken if not c.holds] == [key], change
    without = {k: v for k, v in fake_reproduction().items() if k not in ("ablation", "architectures", "paired")}
    without["pruning"] = [r for r in without["pruning"] if "fine_tune_steps" not in r]
    assert {c.key for c in heads.check_bar(without)[0]} == set(heads.CLAIM_KEYS[:9])  # a run before the contrast
    summary = {row[0]: row[2:] for row in heads.summarize({0: claims, 1: spread})}
    held, count, median, worst = summary["later_layers_concentrated"]
    assert (held, count) == (1, 2) and worst == pytest.approx(0.4) and median == pytest.approx(0.6)
    assert by_key["below_ridge_at_d"].value == pytest.approx(0.5)
    paths = heads.plot(fake_reproduction(), tmp_path)
    assert len(paths) == 4 and all(p.exists() for p in paths)
