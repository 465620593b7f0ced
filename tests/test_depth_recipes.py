"""The Part I recipes and the reproduction command's plumbing, on tiny budgets (the science is checked by
tests/test_depth_tasks.py and by `python -m attnlab.reproduce depth`)."""
import dataclasses
import json

import pytest
import torch

from attnlab import depth
from attnlab.reproduce import main
from attnlab.tasks.depth import TASKS


@pytest.fixture
def tiny_recipes(monkeypatch):
    tiny = {name: dataclasses.replace(recipe, steps=5, eval_every=5, eval_size=32)
            for name, recipe in depth.RECIPES.items()}
    monkeypatch.setattr(depth.config, "RECIPES", tiny)  # where the runs read it
    monkeypatch.setenv("ATTNLAB_PROGRESS", "0")


def test_every_task_has_an_attention_only_recipe():
    assert set(depth.RECIPES) == set(TASKS)
    for name in TASKS:
        task = depth.make_task(name)
        for d in (1, 4):
            model = depth.make_model(name, d, task)
            assert model.cfg.depth == d and not model.cfg.mlp
            assert model(task.sample(2, torch.Generator().manual_seed(0), "test")[0]).shape == (2, task.seq_len,
                                                                                                  task.num_classes)


def test_train_depth_model_returns_model_history_accuracy(tiny_recipes):
    model, history, accuracy = depth.train_depth_model("icqa", 2, seed=0, progress=False)
    assert model.cfg.depth == 2 and not model.training
    assert history.step[-1] == 5 and 0.0 <= accuracy <= 1.0


def test_a_run_that_misses_its_target_starts_afresh_and_keeps_its_best_attempt(tiny_recipes, monkeypatch):
    unreachable = {name: dataclasses.replace(recipe, target=1.01, attempts=3) for name, recipe in depth.RECIPES.items()}
    monkeypatch.setattr(depth.config, "RECIPES", unreachable)
    model, history, _ = depth.train_depth_model("icqa", 2, seed=0, progress=False)
    scores = [score for _, score, _ in history.attempts]
    assert len(scores) == 3 and history.final == max(scores)
    first, _, _ = depth.train_depth_model("icqa", 2, seed=0, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), first.state_dict().values()))
    reached = {name: dataclasses.replace(recipe, target=0.0) for name, recipe in unreachable.items()}
    monkeypatch.setattr(depth.config, "RECIPES", reached)
    _, history, _ = depth.train_depth_model("icqa", 2, seed=0, progress=False)
    assert len(history.attempts) == 1  # the first attempt reached the target: no fresh start


def test_the_bars_are_checked_on_every_seed():
    def row(task, d, seed, accuracy):
        return {"task": task, "depth": d, "seed": seed, "accuracy": accuracy, "chance": 1 / 3, "seconds": 1.0}
    good = [row("in_context_template", d, seed, accuracy) for seed in (0, 1)
            for d, accuracy in [(1, 0.34), (2, 0.5), (3, 0.95), (4, 0.97)]]
    assert depth.misses(good) == []
    bad = good + [row("in_context_template", 3, 2, 0.7), row("in_context_template", 2, 2, 0.5),
                  row("icqa", 1, 0, 0.49), row("icqa", 2, 0, 0.99)]
    assert depth.misses(bad) == [("icqa", 1, "<= chance + 10", 0), ("in_context_template", 3, ">= 90%", 2),
                                 ("in_context_template", 3, ">= depth 2 + 25", 2)]
    table = depth.format_table(bad)
    assert "| in_context_template | 34.0 (worst 34.0) | 50.0 (worst 50.0) | 95.0 (worst 70.0)<br>>= 90%: 2/3" \
           "<br>>= depth 2 + 25: 2/3 |" in table
    assert "| icqa | 49.0 (worst 49.0)<br><= chance + 10: 0/1 | 99.0 (worst 99.0)<br>>= 95%: 1/1 | - | - |" in table
    assert "| icqa |" not in depth.format_table(bad, tasks=["in_context_template"])


def test_memorization_set_follows_the_seed():
    a, b = depth.make_task("memorization", 0), depth.make_task("memorization", 1)
    assert not torch.equal(a.all_examples()[0], b.all_examples()[0])


def test_bad_arguments(tiny_recipes):
    with pytest.raises(ValueError, match="unknown task"):
        depth.train_depth_model("sorting", 1, 0)
    with pytest.raises(ValueError, match="depth must be"):
        depth.make_model("icqa", 0)
    with pytest.raises(ValueError, match="seed must be"):
        depth.train_depth_model("icqa", 1, -1)


def test_reproduce_writes_json_table_and_figure(tiny_recipes, tmp_path, capsys):
    out = tmp_path / "results.json"
    main(["depth", "--seeds", "0,1", "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["kind"] == "depth"
    rows = results["results"]
    assert len(rows) == len(TASKS) * 4 * 2
    assert {r["task"] for r in rows} == set(TASKS) and {r["depth"] for r in rows} == {1, 2, 3, 4}
    for row in rows:
        assert {"task", "depth", "seed", "accuracy", "chance", "seconds"} <= set(row)
        assert row["chance"] == pytest.approx(depth.make_task(row["task"], row["seed"]).chance)
    printed = capsys.readouterr().out
    assert "chance" in printed and "in_context_template" in printed
    assert (tmp_path / "depth_accuracy.png").stat().st_size > 10_000


def test_zoo_hooks_round_trip_through_a_checkpoint(tiny_recipes, tmp_path):
    from attnlab import History, load, save

    no_scaffold = depth.zoo_name("in_context_template", 3, **depth.NO_SCAFFOLD)
    assert no_scaffold == "depth/in_context_template_3_fixed_map0"
    assert set(depth.zoo_recipes()) == {f"depth/{t}_{d}" for t in TASKS for d in depth.DEPTHS} | {no_scaffold}
    model, metadata = depth.build_zoo_model("template", 2, seed=0, progress=False)
    assert {"seed", "steps", "metrics"} <= set(metadata) and 0 <= metadata["metrics"]["accuracy"] <= 1
    save(model, tmp_path / "m.pt", **metadata)
    loaded, meta = load(tmp_path / "m.pt")
    history = History(**meta["history"])
    assert history.step == [5] and loaded.cfg.depth == 2
    run = depth.train_run("icqa", 1, seed=0, progress=False)
    assert run.live and run.model.cfg.depth == 1
    _, metadata = depth.build_zoo_model("in_context_template", 1, task_overrides={"fixed_map": 0}, progress=False)
    assert metadata["task_overrides"] == {"fixed_map": 0}


def test_task_overrides_reach_the_task(tiny_recipes):
    assert depth.make_task("in_context_template", fixed_map=0).fixed_map == 0
    assert depth.make_task("in_context_template").fixed_map == 0.5
    with pytest.raises(ValueError, match="fixed_map must be"):
        depth.train_depth_model("in_context_template", 1, 0, progress=False, fixed_map=2)
