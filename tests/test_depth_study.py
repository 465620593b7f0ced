"""Part I's claims, checked on the course's pretrained models, and the zoo / live switch of the notebooks."""
import pytest

from attnlab import depth

# The thresholds of issue 3, measured afresh on each zoo model (not read from the manifest).
BARS = {
    "memorization": {"at_least": {1: 0.99, 2: 0.99, 3: 0.99, 4: 0.99}},
    "icqa": {"at_most_above_chance": {1: 0.10}, "at_least": {2: 0.95, 3: 0.95, 4: 0.95}},
    "template": {"at_most_above_chance": {1: 0.15}, "at_least": {2: 0.95, 3: 0.95, 4: 0.95}},
    "in_context_template": {"at_least": {3: 0.90, 4: 0.90}},
}


@pytest.fixture(scope="module")
def measured():
    """{task: {depth: accuracy}} of the zoo's models on fresh test prompts."""
    return {task: {d: depth.test_accuracy(depth.pretrained_run(task, d).model, depth.make_task(task), seed=1)
                   for d in depth.DEPTHS} for task in depth.TASK_NAMES}


NOT_REPRODUCED = pytest.mark.xfail(strict=True, reason="no depth learned in-context template matching in the "
                                   "course's CPU budget (see the Part I.4 notebook); strict: a fix must be noticed")


@pytest.mark.parametrize("task", [t if t != "in_context_template" else pytest.param(t, marks=NOT_REPRODUCED)
                                  for t in depth.TASK_NAMES])
def test_zoo_models_show_the_depth_threshold(measured, task):
    accuracy, chance = measured[task], depth.make_task(task).chance
    for d, bar in BARS[task].get("at_least", {}).items():
        assert accuracy[d] >= bar, f"{task} at depth {d}: {accuracy[d]:.3f} < {bar}"
    for d, margin in BARS[task].get("at_most_above_chance", {}).items():
        assert accuracy[d] <= chance + margin, f"{task} at depth {d}: {accuracy[d]:.3f} > chance {chance:.3f} + {margin}"
    if task == "in_context_template":
        assert accuracy[2] <= accuracy[3] - 0.25, f"depth 2 ({accuracy[2]:.3f}) not 25 points below depth 3 ({accuracy[3]:.3f})"


def test_manifest_accuracies_are_what_the_models_score(measured):
    for task in depth.TASK_NAMES:
        for d, recorded in depth.zoo_accuracies(task).items():
            assert abs(recorded - measured[task][d]) < 0.03, f"{task} depth {d}: manifest {recorded}, measured {measured[task][d]}"


def test_grading_always_takes_the_zoo(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr(depth, "train_run", lambda *a, **k: pytest.fail("trained live under nbgrader"))
    runs = depth.models_by_depth("template", live=True)
    assert sorted(runs) == [1, 2, 3, 4] and not any(run.live for run in runs.values())


def test_live_runs_are_marked_live(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    run = depth.train_run("memorization", 1, seed=0, progress=False)
    assert run.live and run.accuracy >= 0.99 and run.history.step


def test_unknown_task_names_say_what_exists():
    with pytest.raises(ValueError, match="choose one of"):
        depth.pretrained_run("sorting", 2)
