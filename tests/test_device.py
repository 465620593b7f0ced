"""The library's one device rule (attnlab.train's doc), checked without a GPU: a model moves its inputs to its own
device, and training hands the model back on the CPU.

A model on PyTorch's `meta` device has shapes but no data: fed the CPU tensors a task samples, it shows whether they
were moved to it. Meta alone is lenient (an embedding on meta takes token ids from the CPU, where CUDA raises), so
`strict` makes every layer insist, as a GPU does, on inputs from the model's device. Training cannot run on meta (a
loss there has no value to print), so it runs on the CPU with a model that records where it is sent (`on_loan`).
"""
import dataclasses

import pytest
import torch

from attnlab import Config, Transformer, depth, patching, train
from attnlab.tasks import FirstToken

TOKENS = Config(max_len=6, vocab_size=8, output_dim=8, width=16, depth=2, heads=2)
# Several queries per prompt under full linear attention: the model builds an attention mask from its inputs.
VECTORS = Config(max_len=6, input_dim=3, output_dim=1, width=16, depth=2, heads=2, causal=False,
                 private_queries=True, attention="linear")


def token_inputs(seed=0):
    return torch.randint(TOKENS.vocab_size, (3, TOKENS.max_len), generator=torch.Generator().manual_seed(seed))


def vector_inputs():
    x = torch.randn(3, VECTORS.max_len, VECTORS.input_dim, generator=torch.Generator().manual_seed(0))
    x[..., -1] = 1.0
    x[:, -2:, -1] = 0.0  # the last two tokens are queries
    return x


def strict(model):
    """`model`, failing as a GPU would when a layer inside is given a tensor from another device than the model's."""
    device = next(model.parameters()).device

    def check(module, inputs):
        for tensor in inputs:
            if isinstance(tensor, torch.Tensor):
                assert tensor.device == device, f"{type(module).__name__} was given a tensor on {tensor.device}, " \
                                                f"the model is on {device}"

    for module in model.modules():
        if module is not model:  # the model itself takes inputs from anywhere
            module.register_forward_pre_hook(check)
    return model


def on_loan(model):
    """A device double for training: `model.to(device)` writes the device's type in `model.sent_to` and leaves the
    weights on the CPU, so that a run "on" meta really computes; sent_to[-1] is where the model was sent last."""
    model.sent_to = []

    def to(device):
        model.sent_to.append(torch.device(device).type)
        return model

    model.to, model.cpu = to, lambda: to("cpu")
    return model


@pytest.mark.parametrize("cfg, inputs", [(TOKENS, token_inputs()), (VECTORS, vector_inputs())],
                         ids=["tokens", "vectors"])
def test_a_model_elsewhere_takes_cpu_inputs_and_head_masks(cfg, inputs):
    model = strict(Transformer(cfg).to("meta"))
    assert model(inputs).device.type == "meta"
    mask = torch.ones(cfg.depth, cfg.heads)
    mask[1, 0] = 0
    for head_mask in (mask, mask.tolist()):
        outputs, cache = model.run_with_cache(inputs, head_mask=head_mask)
        assert outputs.shape == (*inputs.shape[:2], cfg.output_dim) and outputs.device.type == "meta"
        assert {t.device.type for t in cache["pattern"] + cache["z"] + cache["resid"]} == {"meta"}


def test_patching_a_model_elsewhere_with_cpu_inputs():
    model = strict(Transformer(TOKENS).to("meta"))
    for name in patching.component_names(model):
        patched = patching.patch(model, token_inputs(0), token_inputs(1), name, positions=[TOKENS.max_len - 1])
        assert patched.device.type == "meta"


def test_test_accuracy_of_a_model_elsewhere_compares_on_one_device(monkeypatch):
    task = depth.make_task("icqa")
    model = strict(depth.make_model("icqa", 1, task).to("meta"))
    compared = []
    monkeypatch.setattr(task, "metric", lambda outputs, targets: compared.append((outputs.device.type,
                                                                                  targets.device.type)) or 0.0)
    depth.test_accuracy(model, task, size=8)
    assert compared == [("meta", "meta")]


@pytest.mark.parametrize("asked_by", ["argument", "environment"])
def test_training_elsewhere_hands_the_model_back_on_the_cpu(asked_by, monkeypatch):
    monkeypatch.setenv("ATTNLAB_DEVICE", "meta" if asked_by == "environment" else "cpu")
    model = on_loan(Transformer(TOKENS))
    history = train(model, FirstToken(vocab_size=8, seq_len=6), steps=2, batch_size=8, eval_every=1, eval_size=8,
                    device="meta" if asked_by == "argument" else None)
    assert model.sent_to[0] == "meta" and model.sent_to[-1] == "cpu"
    assert len(history.metric) == 2


def test_a_depth_run_elsewhere_comes_back_on_the_cpu(monkeypatch):
    monkeypatch.setenv("ATTNLAB_DEVICE", "meta")
    tiny = {name: dataclasses.replace(recipe, steps=2, batch_size=8, eval_every=1, eval_size=8, attempts=1)
            for name, recipe in depth.RECIPES.items()}
    monkeypatch.setattr(depth.config, "RECIPES", tiny)  # where the runs read it
    make_model = depth.run.make_model
    monkeypatch.setattr(depth.run, "make_model", lambda *args: on_loan(make_model(*args)))
    model, history, accuracy = depth.train_depth_model("icqa", 1, seed=0, progress=False)
    assert model.sent_to[0] == "meta" and model.sent_to[-1] == "cpu" and not model.training
    assert 0.0 <= accuracy <= 1.0
