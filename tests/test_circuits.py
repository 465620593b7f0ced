import pytest
import torch

from attnlab.circuits import blank_model, head_weights, residual_layout


def test_layout_is_consecutive_named_slices():
    assert residual_layout(token=3, position=2, out=3) == {"token": slice(0, 3), "position": slice(3, 5),
                                                            "out": slice(5, 8)}
    with pytest.raises(ValueError, match="size of at least 1"):
        residual_layout(token=0)


def test_blank_model_embeds_one_hot_and_reads_out_one_to_one():
    layout = residual_layout(token=5, position=4, out=5)
    model = blank_model(5, 4, 5, layout)
    tokens = torch.tensor([[3, 1, 4, 0]])
    _, cache = model.run_with_cache(tokens)
    resid = cache["resid"][0][0]
    assert torch.equal(resid[:, layout["token"]], torch.eye(5)[tokens[0]])
    assert torch.equal(resid[:, layout["position"]], torch.eye(4))
    # Every weight of every layer is zero, so the output is the "out" part of the embedding: nothing.
    assert model(tokens).abs().max() == 0
    with pytest.raises(ValueError, match="part 'out' of size 7"):
        blank_model(5, 4, 7, layout)


def test_head_weights_write_through_to_the_model():
    layout = residual_layout(token=4, position=3, out=4, spare=1)
    model = blank_model(4, 3, 4, layout, heads=2, width=12)
    with torch.no_grad():
        head = head_weights(model, layer=1, head=1)
        assert head.W_Q.shape == (6, 12) and head.W_O.shape == (12, 6)
        head.W_V[0, 2] = 7.0
        head.W_O[5, 0] = 3.0
    attention = model.blocks[1].attn
    assert attention.qkv.weight[2 * 12 + 6, 2] == 7.0
    assert attention.out.weight[5, 6] == 3.0
    with pytest.raises(ValueError, match=r"head in \[0, 2\)"):
        head_weights(model, layer=0, head=2)
