"""Part I's claims, checked on the course's pretrained models, and the zoo / live switch of the notebooks."""
import pytest
import torch

from attnlab import answers, depth, patching

@pytest.fixture(scope="module")
def measured():
    """{task: {depth: accuracy}} of the zoo's models on fresh test prompts."""
    return {task: {d: depth.test_accuracy(depth.pretrained_run(task, d).model, depth.make_task(task), seed=1)
                   for d in depth.DEPTHS} for task in depth.TASK_NAMES}


@pytest.mark.parametrize("task", depth.TASK_NAMES)
def test_zoo_models_show_the_depth_threshold(measured, task):
    """Every bar of depth.BARS and depth.GAPS, measured afresh on the zoo's (seed 0) models rather than read from
    the manifest; the ten-seed check of the same bars is tests/test_depth_ten_seeds.py."""
    chance = depth.make_task(task).chance
    rows = [{"task": task, "depth": d, "seed": 0, "accuracy": accuracy, "chance": chance, "seconds": 0.0}
            for d, accuracy in measured[task].items()]
    assert depth.check_bars(rows), f"{task} has no claim"
    assert depth.misses(rows) == [], measured[task]


def test_in_context_template_is_not_learned_without_its_scaffold():
    """The fixed-map scaffold is what lets a model learn the task at all (see InContextTemplate)."""
    task = depth.make_task("in_context_template")
    plain = depth.pretrained_run("in_context_template", 3, **depth.NO_SCAFFOLD)
    assert depth.test_accuracy(plain.model, task, seed=1) <= task.chance + 0.05
    assert not plain.history.stopped_early


def test_depth_3_takes_three_steps_one_per_layer():
    """On the zoo's depth-3 model: layer 1 gathers the labels, layer 2 parses, layer 3 matches the query's
    template; without any one layer the model is back at chance. The depth-2 model has the first two steps
    and no layer left to match."""
    task = depth.make_task("in_context_template")
    prompts, labels = task.sample(500, torch.Generator().manual_seed(7), "test")
    model = depth.pretrained_run("in_context_template", 3).model
    shares = depth.template_circuit(model, task, prompts)
    assert shares["labels"][0] >= 0.5 and shares["parse"][1] >= 0.8 and shares["match"][2] >= 0.6, shares
    for layer in range(3):
        mask = torch.ones(3, 1)
        mask[layer] = 0
        with torch.no_grad():
            assert task.metric(model(prompts, head_mask=mask), labels) <= task.chance + 0.1, f"without layer {layer}"


def test_depth_2_answers_from_the_first_example_or_with_the_fixed_map():
    """Notebook I.4's reading of the zoo's depth-2 model: it parses in layer 1 and matches nothing; it answers
    with the first example's label when the first example fills the query's template, and with the scaffold's
    fixed map (AABB -> 0, ABAB -> 1, ABBA -> 2) otherwise, which is right on a third of those prompts."""
    task = depth.make_task("in_context_template")
    prompts, labels = task.sample(3000, torch.Generator().manual_seed(8), "test")
    model = depth.pretrained_run("in_context_template", 2).model
    shares = depth.template_circuit(model, task, prompts[:500])
    assert shares["parse"][0] >= 0.8 and max(shares["match"]) < 0.2, shares
    first, query = answers.template_index(prompts[:, :4]), answers.template_index(prompts[:, -4:])
    first_label = prompts[:, 4] - task.label_offset
    rule = torch.where(first == query, first_label, query)
    with torch.no_grad():
        outputs = model(prompts)
    assert (outputs[:, -1].argmax(-1) == rule).float().mean() >= 0.95
    assert task.metric(outputs, labels) <= (rule == task.query_labels(labels)).float().mean() + 0.03


def test_depth_3_reads_the_answer_from_the_label_summaries_at_the_matched_examples():
    """Notebook I.4's patching: run prompts with layer 1's output (the label summaries) taken from the same
    prompts with their labels renamed; the answer follows the summaries at the other positions, not the
    query's own."""
    task = depth.make_task("in_context_template")
    model = depth.pretrained_run("in_context_template", 3).model
    prompts, labels = task.sample(2000, torch.Generator().manual_seed(11), "test")
    is_label = prompts >= task.label_offset
    renamed = torch.where(is_label, (prompts - task.label_offset + 1) % 3 + task.label_offset, prompts)
    renamed_answer = (task.query_labels(labels) + 1) % 3

    def follows_renamed(positions):
        answer = patching.patch(model, prompts, renamed, "blocks.0.attn", positions)[:, -1].argmax(-1)
        return (answer == renamed_answer).float().mean().item()

    last = task.seq_len - 1
    assert follows_renamed(list(range(last))) >= 0.6 and follows_renamed([last]) <= 0.3


def test_template_circuit_says_what_it_reads():
    model = depth.pretrained_run("in_context_template", 3).model
    with pytest.raises(ValueError, match="InContextTemplate"):
        depth.template_circuit(model, depth.make_task("icqa"), torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="prompts must have shape"):
        depth.template_circuit(model, depth.make_task("in_context_template"), torch.zeros(1, 9, dtype=torch.long))


def test_manifest_accuracies_are_what_the_models_score(measured):
    for task in depth.TASK_NAMES:
        for d, recorded in depth.zoo_accuracies(task).items():
            assert abs(recorded - measured[task][d]) < 0.03, f"{task} depth {d}: manifest {recorded}, measured {measured[task][d]}"


def test_grading_always_takes_the_zoo(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr(depth.run, "train_run", lambda *a, **k: pytest.fail("trained live under nbgrader"))
    runs = depth.models_by_depth("template", live=True)
    assert sorted(runs) == [1, 2, 3, 4] and not any(run.live for run in runs.values())


def test_a_notebook_s_live_training_under_grading_is_the_zoo_s_model_and_says_so(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr(depth.run, "train_depth_model", lambda *a, **k: pytest.fail("trained live under nbgrader"))
    run, zoo = depth.train_run("icqa", 2, seed=0), depth.pretrained_run("icqa", 2)
    assert not run.live and run.accuracy == zoo.accuracy
    assert all(torch.equal(a, b) for a, b in zip(run.model.state_dict().values(), zoo.model.state_dict().values()))
    assert run.origin() == "the zoo's model (grading loads it instead of training)"


def test_live_runs_are_marked_live(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    run = depth.train_run("memorization", 1, seed=0, progress=False)
    assert run.live and run.accuracy >= 0.99 and run.history.step
    assert run.origin().startswith(f"trained here in {run.history.seconds:.1f} s ({run.history.step[-1]} steps)")


def test_unknown_task_names_say_what_exists():
    with pytest.raises(ValueError, match="choose one of"):
        depth.pretrained_run("sorting", 2)
