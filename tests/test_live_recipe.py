"""II.2's live model and its paired comparison with ridge (heads.live_model, heads.minus_ridge)."""
import math

import numpy as np
import torch
from sklearn.linear_model import Ridge

from attnlab import analysis, baselines, heads


def test_minus_ridge_is_the_paired_difference_against_an_independent_ridge():
    torch.manual_seed(0)
    task = heads.make_task()
    model = heads.make_model(task, layers=1, heads=2)  # untrained: any model will do
    prompts, tuning = (task.prompts(300, torch.Generator().manual_seed(s)) for s in (1, 2))
    mean, half = heads.minus_ridge(model, task, prompts, tuning)
    predictions, targets = analysis.predict_by_n(model, task, prompts)
    per_prompt = np.zeros(300)
    rng = heads.claim_range(task)
    for n in rng:
        lam = baselines.tune("ridge", tuning.first(n))[0]["lam"]
        P = prompts.first(n)
        ridge = np.array([Ridge(alpha=lam, fit_intercept=False).fit(P.X[b].numpy(), P.y[b].numpy())
                          .predict(P.x_query[b:b + 1].numpy())[0] for b in range(300)])
        per_prompt += ((predictions[:, n] - targets[:, n]).numpy() ** 2 - (ridge - targets[:, n].numpy()) ** 2) / len(rng)
    assert math.isclose(mean, per_prompt.mean(), rel_tol=1e-3, abs_tol=1e-5)
    assert math.isclose(half, 1.96 * per_prompt.std(ddof=1) / math.sqrt(300), rel_tol=1e-3)


def test_under_grading_the_live_model_is_the_zoos(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    run = heads.live_model()
    assert not run.live and run.history.step[-1] == heads.TRAINING["steps"]


def test_with_a_cache_folder_the_live_model_is_trained_once_and_is_what_training_gives(tmp_path, monkeypatch):
    """$ATTNLAB_LIVE_CACHE (the suite sets it): a second call takes the model the first trained, without training,
    and that model is the one a fresh training gives (one CPU thread, one seed: deterministic)."""
    from attnlab.heads import run as heads_run
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setitem(heads.LIVE_TRAINING, "steps", 30)
    monkeypatch.setitem(heads.LIVE_TRAINING, "eval_every", 10)
    monkeypatch.setenv("ATTNLAB_LIVE_CACHE", str(tmp_path / "cache"))
    first = heads.live_model(seed=1)
    trained = heads_run.train_run

    def refuse(*args, **kwargs):
        raise AssertionError("the second call trained again")

    monkeypatch.setattr(heads_run, "train_run", refuse)
    second = heads.live_model(seed=1)
    assert second.live and second.history == first.history and second.history.step[-1] == 30
    fresh = trained(seed=1, progress=False, training=heads.LIVE_TRAINING).model.state_dict()
    for name, weight in second.model.state_dict().items():
        assert torch.equal(weight, first.model.state_dict()[name]) and torch.equal(weight, fresh[name]), name
