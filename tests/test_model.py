import pytest
import torch

from attnlab import Config, Transformer, load, save


def token_model(**overrides):
    settings = dict(max_len=10, output_dim=5, vocab_size=12, width=32, depth=2, heads=4)
    settings.update(overrides)
    torch.manual_seed(0)
    return Transformer(Config(**settings)).eval()


def vector_model(**overrides):
    settings = dict(max_len=10, output_dim=1, input_dim=6, width=32, depth=3, heads=2, mlp=True)
    settings.update(overrides)
    torch.manual_seed(0)
    return Transformer(Config(**settings)).eval()


def tokens(batch=3, length=7, vocab=12):
    return torch.randint(vocab, (batch, length), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("depth,heads,mlp,layer_norm,causal", [
    (1, 1, False, True, True), (2, 4, False, False, True), (3, 2, True, True, False), (4, 8, True, False, False)])
def test_output_shapes_for_every_switch(depth, heads, mlp, layer_norm, causal):
    model = token_model(depth=depth, heads=heads, mlp=mlp, layer_norm=layer_norm, causal=causal)
    assert model(tokens()).shape == (3, 7, 5)
    assert (model.blocks[0].mlp is not None) == mlp


def test_vector_input_reads_in_and_out_linearly():
    model = vector_model()
    x = torch.randn(4, 9, 6)
    assert model(x).shape == (4, 9, 1)


def test_cache_holds_every_layer():
    model = token_model(depth=3, heads=4)
    out, cache = model.run_with_cache(tokens())
    assert len(cache["pattern"]) == 3 and len(cache["z"]) == 3 and len(cache["resid"]) == 4
    for pattern in cache["pattern"]:
        assert pattern.shape == (3, 4, 7, 7)  # (batch, head, query, key)
        torch.testing.assert_close(pattern.sum(-1), torch.ones(3, 4, 7))
    assert cache["z"][0].shape == (3, 4, 7, 8)
    assert all(r.shape == (3, 7, 32) for r in cache["resid"])
    # The last residual stream, read out, is the output.
    torch.testing.assert_close(model.unembed(model.norm_final(cache["resid"][-1])), out)


def test_causal_mask_hides_the_future_and_full_mask_does_not():
    causal = token_model(causal=True)
    _, cache = causal.run_with_cache(tokens())
    future = torch.ones(7, 7, dtype=torch.bool).triu(1)
    assert cache["pattern"][0][..., future].abs().max() == 0
    # Changing a later token cannot change an earlier output under a causal mask...
    x = tokens()
    y = x.clone()
    y[:, -1] = (y[:, -1] + 1) % 12
    torch.testing.assert_close(causal(x)[:, :-1], causal(y)[:, :-1])
    # ...but does under full attention.
    full = token_model(causal=False)
    assert not torch.allclose(full(x)[:, :-1], full(y)[:, :-1])


@pytest.mark.parametrize("attention", ["softmax", "linear"])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("make", [token_model, vector_model])
def test_fused_and_explicit_paths_agree(make, causal, attention):
    model = make(causal=causal, attention=attention)
    x = tokens() if make is token_model else torch.randn(3, 7, 6)
    fused = model(x)
    explicit, _ = model.run_with_cache(x)
    all_heads = torch.ones(model.cfg.depth, model.cfg.heads)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fused, model(x, head_mask=all_heads), atol=1e-5, rtol=1e-5)


def test_linear_attention_averages_score_times_value_over_the_visible_keys():
    """Config(attention="linear"): head output z_i = (1/N_i) sum_j (q_i . k_j / sqrt(D)) v_j, with N_i the number
    of keys query i may see (i + 1 under a causal mask, T without)."""
    for causal in (True, False):
        model = vector_model(attention="linear", causal=causal, depth=1, mlp=False)
        x = torch.randn(3, 7, 6)
        _, cache = model.run_with_cache(x)
        attn = model.blocks[0].attn
        q, k, v = attn.qkv(model.blocks[0].norm_attn(cache["resid"][0])).split(32, dim=2)
        q, k, v = (t.view(3, 7, 2, 16).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / 16 ** 0.5
        visible = torch.ones(7, 7).tril() if causal else torch.ones(7, 7)
        expected = (scores * visible / visible.sum(-1, keepdim=True)) @ v
        torch.testing.assert_close(cache["z"][0], expected)
        torch.testing.assert_close(model(x), model.run_with_cache(x)[0])  # forward and the cache agree


def test_full_context_private_queries_see_every_example_and_no_query():
    """causal=False with private queries: each token sees every example, before or after it; no token sees a
    query, except a query itself under softmax (which needs a key). Changing a query changes no other output."""
    x = torch.randn(2, 7, 6)
    x[..., -1] = 1.0
    x[:, 4:, -1] = 0.0  # tokens 4, 5, 6 are queries
    for attention in ("softmax", "linear"):
        model = vector_model(attention=attention, causal=False, private_queries=True)
        _, cache = model.run_with_cache(x)
        pattern = cache["pattern"][0]  # (B, H, T, T)
        queries_seen = pattern[..., 4:] * (1 - torch.eye(7)[:, 4:])  # attention on a query, other than itself
        assert queries_seen.abs().max() == 0
        assert (pattern[:, :, 0, 1:4].abs() > 0).all()  # the first example sees later examples
        assert (pattern[:, :, 4:, 4:].diagonal(dim1=-2, dim2=-1) != 0).all() == (attention == "softmax")
        torch.testing.assert_close(model(x), model.run_with_cache(x)[0], atol=1e-5, rtol=1e-5)  # fused = explicit
        y = x.clone()
        y[:, 5, :-1] += 1.0
        changed = (model(x) - model(y)).abs().amax(dim=(0, 2))
        assert changed[5] > 0 and changed[[0, 1, 2, 3, 4, 6]].max() < 1e-6


def test_head_mask_removes_exactly_that_heads_contribution():
    model = token_model(depth=1, heads=4)
    x = tokens()
    mask = torch.ones(1, 4)
    mask[0, 2] = 0
    _, cache = model.run_with_cache(x)
    z = cache["z"][0]  # (B, H, T, D)
    B, H, T, D = z.shape
    w_out = model.blocks[0].attn.out.weight  # (C, C); columns h*D:(h+1)*D belong to head h
    head2_contribution = z[:, 2] @ w_out[:, 2 * D:3 * D].T  # (B, T, C)
    resid_full = model.run_with_cache(x)[1]["resid"][-1]
    resid_masked = model.run_with_cache(x, head_mask=mask)[1]["resid"][-1]
    torch.testing.assert_close(resid_full - resid_masked, head2_contribution, atol=1e-5, rtol=1e-5)
    # Removing every head leaves only the embeddings in the residual stream.
    _, empty = model.run_with_cache(x, head_mask=torch.zeros(1, 4))
    torch.testing.assert_close(empty["resid"][-1], empty["resid"][0])


def test_same_seed_gives_same_model_and_output():
    a, b = token_model(), token_model()
    torch.testing.assert_close(a(tokens()), b(tokens()))


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    model = vector_model()
    save(model, tmp_path / "m.pt", seed=3, steps=10)
    checkpoint = torch.load(tmp_path / "m.pt", weights_only=True)
    assert checkpoint["config"]["input_dim"] == 6
    loaded, metadata = load(tmp_path / "m.pt")
    assert metadata == {"seed": 3, "steps": 10}
    x = torch.randn(2, 5, 6)
    torch.testing.assert_close(loaded(x), model(x))


@pytest.mark.parametrize("settings,message", [
    (dict(depth=0), "depth must be at least 1"),
    (dict(heads=3), "heads must divide width"),
    (dict(heads=0), "heads must be at least 1"),
    (dict(vocab_size=None), "exactly one of vocab_size"),
    (dict(input_dim=4), "exactly one of vocab_size"),
    (dict(max_len=0), "max_len must be at least 1"),
    (dict(attention="relu"), r"attention must be one of \('softmax', 'linear'\)"),
])
def test_bad_config_says_what_is_allowed(settings, message):
    base = dict(max_len=10, output_dim=5, vocab_size=12, width=32, depth=2, heads=4)
    base.update(settings)
    with pytest.raises(ValueError, match=message):
        Config(**base)


def test_bad_inputs_say_what_is_allowed():
    model = token_model()
    with pytest.raises(ValueError, match="max_len=10"):
        model(torch.zeros(1, 11, dtype=torch.long))
    with pytest.raises(ValueError, match=r"head_mask must have shape \(layers, heads\) = \(2, 4\)"):
        model(tokens(), head_mask=torch.ones(4, 2))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 12\)"):
        model(torch.full((1, 3), 12))
    with pytest.raises(ValueError, match="integer tensor"):
        model(torch.randn(1, 3))
    with pytest.raises(ValueError, match=r"expected shape \(batch, seq, 6\)"):
        vector_model()(torch.randn(1, 3, 5))
