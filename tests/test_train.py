import pytest
import torch

from attnlab import Config, Transformer, load, pick_device, save, train
from attnlab.tasks import FirstToken


def first_token_run(seed=0, **settings):
    task = FirstToken(vocab_size=16, seq_len=8)
    torch.manual_seed(seed)
    model = Transformer(Config(max_len=8, output_dim=16, vocab_size=16, width=32, depth=1))
    options = dict(steps=300, lr=3e-3, eval_every=50, seed=seed)
    options.update(settings)
    return model, train(model, task, **options), task


def test_training_learns_a_trivial_task():
    model, history, task = first_token_run()
    assert history.metric[0] < history.metric[-1]
    assert history.final >= 0.99, f"expected the first-token task to be learned, got accuracy {history.final}"
    assert history.final > task.chance + 0.5


def test_early_stop_at_the_target():
    _, history, _ = first_token_run(steps=2000, target=0.99)
    assert history.stopped_early and history.step[-1] < 2000 and history.final >= 0.99


def test_a_plateau_ends_the_run_after_patience_steps():
    # lr so small that the accuracy cannot move by a point: the run stops `patience` steps after its best.
    _, history, _ = first_token_run(steps=2000, lr=1e-7, eval_every=10, patience=100)
    assert history.plateaued and not history.stopped_early
    assert history.step[-1] == 110 and max(history.metric) - history.metric[0] <= 0.01  # its best was the first
    _, learning, _ = first_token_run(steps=2000, patience=100, target=0.99)
    assert learning.stopped_early and not learning.plateaued  # a run that learns is not stopped as on a plateau
    with pytest.raises(ValueError, match="patience must be at least 1"):
        first_token_run(patience=0)


def test_same_seed_same_history_different_seed_differs():
    _, a, _ = first_token_run(steps=60, eval_every=20)
    _, b, _ = first_token_run(steps=60, eval_every=20)
    _, c, _ = first_token_run(seed=1, steps=60, eval_every=20)
    assert a.loss == b.loss and a.metric == b.metric
    assert a.loss != c.loss


def test_trained_checkpoint_reloads_to_the_same_accuracy(tmp_path):
    model, history, task = first_token_run(steps=200)
    save(model, tmp_path / "first.pt", accuracy=history.final)
    loaded, meta = load(tmp_path / "first.pt")
    x, y = task.sample(256, torch.Generator().manual_seed(5))
    assert task.metric(loaded(x), y) == task.metric(model.eval()(x), y)
    assert meta["accuracy"] == history.final


def test_device_choice_and_override(monkeypatch):
    """CUDA, then MPS, then the CPU; $ATTNLAB_DEVICE and the argument override the choice (the accelerators are
    faked as present: picking one only names it, nothing is moved there)."""
    monkeypatch.delenv("ATTNLAB_DEVICE", raising=False)
    for cuda, mps, expected in [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]:
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda mps=mps: mps)
        assert pick_device().type == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("ATTNLAB_DEVICE", "cpu")
    assert pick_device().type == "cpu"  # the environment wins over a present GPU
    monkeypatch.setenv("ATTNLAB_DEVICE", "mps")
    assert pick_device("cpu").type == "cpu"  # and the argument wins over the environment


@pytest.mark.parametrize("settings", [dict(steps=0), dict(lr=0), dict(batch_size=0)])
def test_bad_training_arguments(settings):
    with pytest.raises(ValueError, match="must be"):
        first_token_run(**settings)


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="split must be one of"):
        FirstToken().sample(2, torch.Generator(), "validation")
