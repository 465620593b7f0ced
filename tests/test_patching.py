"""Activation patching: replacing a component's output by its output on other inputs, at chosen positions."""
import pytest
import torch

from attnlab import Config, Transformer, patching


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(Config(max_len=6, output_dim=3, vocab_size=10, width=16, depth=2, heads=2)).eval()


def inputs(seed):
    return torch.randint(10, (4, 6), generator=torch.Generator().manual_seed(seed))


def test_patching_everything_at_the_last_block_gives_the_corrupted_run(model):
    clean, corrupted = inputs(0), inputs(1)
    with torch.no_grad():
        expected = model(corrupted)
    assert torch.allclose(patching.patch(model, clean, corrupted, "blocks.1"), expected, atol=1e-6)
    assert torch.allclose(patching.patch(model, clean, corrupted, "embed"), expected, atol=1e-6)
    # a model that is causal: patching the embedding from position 3 on leaves positions 0-2 as in the clean run
    with torch.no_grad():
        clean_out = model(clean)
    partly = patching.patch(model, clean, corrupted, "embed", positions=[3, 4, 5])
    assert torch.allclose(partly[:, :3], clean_out[:, :3], atol=1e-6)
    assert not torch.allclose(partly[:, 3:], clean_out[:, 3:], atol=1e-3)


def test_patching_leaves_the_model_as_it_was(model):
    clean, corrupted = inputs(2), inputs(3)
    with torch.no_grad():
        before = model(clean)
    patching.patch(model, clean, corrupted, "blocks.0.attn", positions=[1])
    with torch.no_grad():
        assert torch.equal(model(clean), before)  # no hook left behind
    assert all(not m._forward_hooks for m in model.modules())


def test_bad_patches_say_what_is_allowed(model):
    clean = inputs(4)
    assert patching.component_names(model) == ["embed", "blocks.0", "blocks.0.attn", "blocks.1", "blocks.1.attn"]
    with pytest.raises(ValueError, match="cannot patch 'blocks.2.attn': this model's components are embed, blocks.0"):
        patching.patch(model, clean, clean, "blocks.2.attn")
    with pytest.raises(ValueError, match="same shape"):
        patching.patch(model, clean, clean[:, :5], "embed")
    with pytest.raises(ValueError, match=r"positions must be a non-empty list of positions in 0..5, got \[6\]"):
        patching.patch(model, clean, clean, "embed", positions=[6])
