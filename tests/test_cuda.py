"""The device rule on a real GPU: what tests/test_device.py checks on `meta`, run where it matters. Skipped without
CUDA; on a GPU machine: `pytest tests/test_cuda.py -p no:xdist`. ATTNLAB_TEST_DEVICE names another device to test
(mps, say; cpu checks the test itself).

Each measurement of a zoo model moved to the GPU must equal the same measurement on the CPU (up to float32
rounding): the model computes where it lives, and every result comes back on the CPU, beside the prompts'
targets. Training on the GPU must hand the model back on the CPU."""
import dataclasses
import os

import pytest
import torch

from attnlab import analysis, depth, heads, patching, plots
from attnlab.heads.contrast import architecture_mask, train_with_heads_removed

DEVICE = os.environ.get("ATTNLAB_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def train_there(monkeypatch):
    monkeypatch.setenv("ATTNLAB_DEVICE", DEVICE)


def on_gpu(model):
    return model.to(DEVICE)


def device_of(model):
    return next(model.parameters()).device.type


def assert_same(cpu, gpu):
    gpu = torch.as_tensor(gpu)
    assert gpu.device.type == "cpu"
    torch.testing.assert_close(gpu, torch.as_tensor(cpu), rtol=1e-3, atol=1e-3)  # GPU kernels round differently


def test_heads_measurements_on_the_gpu_match_the_cpu():
    model, task = heads.pretrained().model, heads.make_task()
    P, fit, test = (heads.prompts(task, 0, purpose, 600) for purpose in ("measure", "probe_fit", "probe_test"))
    measures = {
        "risk": lambda m: analysis.risk_by_n(m, task, P),
        "probe": lambda m: analysis.probe(m, task, fit, test),
        "importance_zero": lambda m: analysis.head_importance(m, task, P, kind="zero"),
        "importance_mean": lambda m: analysis.head_importance(m, task, P, kind="mean"),
        "effect": lambda m: analysis.head_effect(m, task, P),
        "reweighting": lambda m: list(heads.layer1_reweighting(m, task, 0, 600).values()),
    }
    cpu = {name: measure(model) for name, measure in measures.items()}
    on_gpu(model)
    for name, measure in measures.items():
        assert_same(cpu[name], measure(model))


def test_heads_training_on_the_gpu_comes_back_on_the_cpu():
    run = heads.train_run(seed=0, progress=False, training={"steps": 20, "eval_every": 10})
    assert device_of(run.model) == "cpu"
    task = heads.make_task()
    mask = architecture_mask((heads.HEADS, 1, 1), heads.HEADS)
    train_with_heads_removed(run.model, task, mask, 0, {**heads.TRAINING, "steps": 10, "eval_every": 5},
                             progress=False)
    assert device_of(run.model) == "cpu"
    analysis.risk_by_n(on_gpu(run.model), task, heads.prompts(task, 0, "measure", 100))


def test_depth_measurements_on_the_gpu_match_the_cpu():
    run, task = depth.pretrained_run("in_context_template", 3), depth.make_task("in_context_template")
    prompts, _ = task.sample(64, torch.Generator().manual_seed(0))
    corrupted, _ = task.sample(64, torch.Generator().manual_seed(1))
    component = patching.component_names(run.model)[0]
    measures = {
        "circuit": lambda m: list(depth.template_circuit(m, task, prompts).values()),
        "accuracy": lambda m: depth.test_accuracy(m, task, size=256),
        "patched": lambda m: patching.patch(m, prompts, corrupted, component).cpu(),
    }
    cpu = {name: measure(run.model) for name, measure in measures.items()}
    on_gpu(run.model)
    for name, measure in measures.items():
        assert_same(cpu[name], measure(run.model))
    _, cache = run.model.run_with_cache(prompts)
    assert plots.layer_patterns(cache).axes  # the figure reads a cache from the GPU


def test_depth_training_on_the_gpu_comes_back_on_the_cpu(monkeypatch):
    tiny = {name: dataclasses.replace(recipe, steps=20, eval_every=10, eval_size=64, attempts=1)
            for name, recipe in depth.RECIPES.items()}
    monkeypatch.setattr(depth.config, "RECIPES", tiny)  # where the runs read it
    run = depth.train_run("icqa", 1, seed=0, progress=False)
    assert device_of(run.model) == "cpu" and 0.0 <= run.accuracy <= 1.0
