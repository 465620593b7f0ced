"""The four depth tasks of Part I: shapes, seeding, chance levels, the rule behind every label, errors,
and one small training run that shows the depth threshold itself (in-context QA: 1 layer fails, 2 succeed)."""
import pytest
import torch

from attnlab.tasks.base import ClassificationTask
from attnlab.tasks.depth import (TASKS, TEMPLATES, InContextQA, InContextTemplate, SequenceClassification,
                                 TemplateMatching)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def template_of(filled):
    """(B, 4) filled templates -> (B,) template index, from where equal tokens sit."""
    same = filled[:, :, None] == filled[:, None, :]  # (B, 4, 4)
    patterns = TEMPLATES[:, :, None] == TEMPLATES[:, None, :]  # (3, 4, 4)
    match = (same[:, None] == patterns[None]).flatten(2).all(-1)  # (B, 3)
    assert (match.sum(1) == 1).all(), "every filling must match exactly one template"
    return match.float().argmax(1)


@pytest.mark.parametrize("name", sorted(TASKS))
@pytest.mark.parametrize("split", ["train", "test"])
def test_shapes_dtypes_and_ranges(name, split):
    task = TASKS[name]()
    assert isinstance(task, ClassificationTask)
    x, y = task.sample(37, gen(), split)
    assert x.shape == (37, task.seq_len) and x.dtype == torch.int64
    labels = task.query_labels(y)  # the label asked at the last position
    assert labels.shape == (37,) and labels.dtype == torch.int64
    assert 0 <= x.min() and x.max() < task.vocab_size
    assert 0 <= labels.min() and labels.max() < task.num_classes
    assert 0 < task.chance < 1


@pytest.mark.parametrize("name", sorted(TASKS))
def test_seeding(name):
    task = TASKS[name]()
    a, b, c = (task.sample(64, gen(s), "train") for s in (1, 1, 2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("name", ["icqa", "template", "in_context_template"])
def test_labels_are_uniform(name):
    """No class is more likely than another, so no constant guess beats chance."""
    task = TASKS[name]()
    y = task.query_labels(task.sample(30_000, gen(3), "test")[1])
    frequencies = torch.bincount(y, minlength=task.num_classes).float() / len(y)
    assert (frequencies - 1 / task.num_classes).abs().max() < 0.015, frequencies
    assert task.chance >= 1 / task.num_classes


def test_memorization_set_is_fixed_balanced_and_shared_by_both_splits():
    task = SequenceClassification(num_sequences=10, num_classes=4, seed=5)
    sequences, labels = task.all_examples()
    assert len(torch.unique(sequences, dim=0)) == 10
    assert sorted(torch.bincount(labels).tolist()) == [2, 2, 3, 3]  # balanced as far as 10 / 4 allows
    assert task.chance == 3 / 10  # the best constant guess: the most common label
    assert torch.equal(SequenceClassification(num_sequences=10, num_classes=4, seed=5).all_examples()[0], sequences)
    assert not torch.equal(SequenceClassification(num_sequences=10, num_classes=4, seed=6).all_examples()[0], sequences)
    lookup = {tuple(s.tolist()): l.item() for s, l in zip(sequences, labels)}
    for split in ("train", "test"):
        x, y = task.sample(200, gen(), split)
        assert all(lookup[tuple(s)] == l for s, l in zip(x.tolist(), y.tolist()))
    assert SequenceClassification().chance == 1 / 4


def test_icqa_label_is_the_answer_paired_with_the_query():
    task = InContextQA(num_pairs=5, vocab_size=12)
    x, y = task.sample(500, gen(), "train")
    k = task.num_pairs
    assert task.seq_len == 2 * k + 1 and task.num_classes == task.vocab_size == 12
    questions, answers, query = x[:, 0:2 * k:2], x[:, 1:2 * k:2], x[:, -1]
    assert all(len(set(row)) == k for row in questions.tolist())  # distinct questions
    assert all(len(set(row)) == k for row in answers.tolist())  # distinct answers: chance is exactly 1 / k
    assert ((questions == query[:, None]).sum(1) == 1).all()  # the query is one of the questions
    slot = (questions == query[:, None]).float().argmax(1)
    assert torch.equal(y, answers.gather(1, slot[:, None]).squeeze(1))
    assert task.chance == 1 / k
    # every slot is asked equally often, so no position is a shortcut
    counts = torch.bincount(slot, minlength=k).float()
    assert (counts / counts.sum() - 1 / k).abs().max() < 0.06


def test_icqa_chance_is_what_guessing_a_context_answer_gets():
    task = InContextQA()
    x, y = task.sample(20_000, gen(4), "test")
    guess = x[:, 1]  # always answer with the first answer of the context: ignores the pairing
    assert (guess == y).float().mean().item() == pytest.approx(task.chance, abs=0.015)


def test_template_and_in_context_template_chance_is_exact():
    assert TemplateMatching().chance == 1 / 3 and InContextTemplate().chance == 1 / 3


def test_template_label_follows_the_equal_token_pattern_and_test_tokens_are_unseen():
    task = TemplateMatching(num_train_tokens=20, num_test_tokens=6)
    for split, low, high in (("train", 0, 20), ("test", 20, 26)):
        x, y = task.sample(2000, gen(), split)
        assert (x[:, -1] == task.query_token).all()
        fillers = x[:, :4]
        assert low <= fillers.min() and fillers.max() < high
        assert torch.equal(template_of(fillers), y)
        # every template has two A's and two B's: symbol counts say nothing
        assert (torch.sort(torch.bincount(fillers[0]))[0][-2:] == 2).all()
    train_tokens = set(task.sample(5000, gen(1), "train")[0][:, :4].flatten().tolist())
    test_tokens = set(task.sample(5000, gen(1), "test")[0][:, :4].flatten().tolist())
    assert not train_tokens & test_tokens
    assert len(train_tokens) == 20 and len(test_tokens) == 6  # every token of a split is used
    assert task.chance == 1 / 3


def blocks_of(task, x):
    """(B, 5 k + 4) in-context template prompts -> (B, k + 1, 5): k (sequence, label) blocks, then the query
    (its label slot padded with -1)."""
    padded = torch.cat([x, torch.full((len(x), 1), -1)], dim=1)
    return padded.view(len(x), task.num_examples + 1, 5)


def parsed(task, x):
    """(templates (B, k + 1), context labels (B, k)) of in-context template prompts."""
    blocks = blocks_of(task, x)
    templates = torch.stack([template_of(blocks[:, i, :4]) for i in range(task.num_examples + 1)], dim=1)
    return templates, blocks[:, :-1, 4] - task.label_offset


@pytest.mark.parametrize("split", ["train", "test"])
def test_in_context_template_label_is_the_one_the_context_gave_the_query_template(split):
    task = InContextTemplate(num_examples=5, num_tokens=14)
    x, y = task.sample(1000, gen(), split)
    k = task.num_examples
    assert task.seq_len == 5 * k + 4 and x.shape == (1000, 5 * k + 4) and y.shape == (1000, k + 1)
    templates, labels = parsed(task, x)
    assert all(set(row) == {0, 1, 2} for row in templates[:, :k].tolist())  # every template in the context
    fillers = blocks_of(task, x)[:, :, :4].flatten(1)
    assert (fillers < task.num_tokens).all()
    assert all(len(set(row)) == 2 * (k + 1) for row in fillers.tolist())  # 2 distinct fillers per sequence
    # one map per prompt: examples of the same template carry the same label
    same_template = templates[:, :k, None] == templates[:, None, :k]
    assert ((labels[:, :, None] == labels[:, None, :]) | ~same_template).all()
    slot = (templates[:, :k] == templates[:, k:]).float().argmax(1)
    assert torch.equal(task.query_labels(y), labels.gather(1, slot[:, None]).squeeze(1))
    # the template-to-label map really changes from prompt to prompt
    label_of_aabb = labels.gather(1, (templates[:, :k] == 0).float().argmax(1, keepdim=True)).squeeze(1)
    assert len(set(label_of_aabb.tolist())) == 3
    assert task.chance == 1 / 3


def test_in_context_template_asks_every_example_whose_template_was_shown_before():
    task = InContextTemplate(fixed_map=0)
    for split in ("train", "test"):
        x, y = task.sample(500, gen(), split)
        templates, labels = parsed(task, x)
        for b in range(len(x)):
            for i in range(task.num_examples):
                shown = templates[b, i].item() in templates[b, :i].tolist()
                assert y[b, i].item() == (labels[b, i].item() if shown else task.IGNORE)


def test_the_fixed_map_scaffold_is_for_training_only():
    fixed = torch.tensor([0, 1, 2])  # AABB -> 0, ABAB -> 1, ABBA -> 2
    task = InContextTemplate(fixed_map=1)
    x, y = task.sample(300, gen(), "train")
    templates, labels = parsed(task, x)
    assert torch.equal(labels, fixed[templates[:, :-1]]) and (y != task.IGNORE).all()  # every example answered
    x, y = task.sample(3000, gen(), "test")  # the test split always draws a fresh map
    templates, labels = parsed(task, x)
    uses_fixed = (labels == fixed[templates[:, :-1]]).all(1).float().mean().item()
    assert uses_fixed == pytest.approx(1 / 6, abs=0.03)  # a random permutation of 3 is the fixed one 1 time in 6
    half = InContextTemplate(fixed_map=0.5)
    templates, labels = parsed(half, half.sample(3000, gen(), "train")[0])
    assert (labels == fixed[templates[:, :-1]]).all(1).float().mean().item() == pytest.approx(0.5 + 0.5 / 6, abs=0.03)


def test_in_context_template_loss_counts_the_answerable_examples_only():
    task = InContextTemplate()
    x, y = task.sample(64, gen(), "test")
    positions = task.answer_positions()
    assert (x[:, positions[:-1] + 1] >= task.label_offset).all()  # each asked position is followed by its label
    outputs = torch.randn(64, task.seq_len, 3)
    answerable = y != task.IGNORE
    expected = torch.nn.functional.cross_entropy(outputs[:, positions][answerable], y[answerable])
    assert torch.allclose(task.loss(outputs, y), expected)
    moved = outputs.clone()
    moved[:, positions[0] + 1] += 100  # a position where nothing is asked
    assert torch.allclose(task.loss(moved, y), expected)
    assert task.metric(outputs, y) == (outputs[:, -1].argmax(-1) == y[:, -1]).float().mean().item()


def test_in_context_template_can_hold_out_tokens():
    task = InContextTemplate(num_tokens=14, num_test_tokens=14)
    fillers = blocks_of(task, task.sample(500, gen(), "test")[0])[:, :, :4]
    assert (fillers >= 14).all() and (fillers < 28).all()
    assert (blocks_of(task, task.sample(500, gen(), "train")[0])[:, :, :4] < 14).all()


@pytest.mark.parametrize("make", [
    lambda: SequenceClassification(num_sequences=0),
    lambda: SequenceClassification(num_classes=1),
    lambda: SequenceClassification(num_sequences=20, seq_len=2, vocab_size=4),
    lambda: InContextQA(num_pairs=1),
    lambda: InContextQA(num_pairs=8, vocab_size=4),
    lambda: TemplateMatching(num_train_tokens=1),
    lambda: TemplateMatching(num_test_tokens=1.5),
    lambda: InContextTemplate(num_tokens=13),
    lambda: InContextTemplate(num_test_tokens=3),
    lambda: InContextTemplate(num_examples=2),
    lambda: InContextTemplate(fixed_map=1.5),
    lambda: InContextTemplate(fixed_map=True),
])
def test_bad_arguments_raise_clear_errors(make):
    with pytest.raises(ValueError, match="must|only"):
        make()


@pytest.mark.parametrize("name", sorted(TASKS))
def test_bad_split_or_batch_raise(name):
    task = TASKS[name]()
    with pytest.raises(ValueError, match="split must be one of"):
        task.sample(4, gen(), "validation")
    with pytest.raises(ValueError, match="batch_size"):
        task.sample(0, gen(), "train")


def test_depth_threshold_icqa_one_layer_fails_two_layers_succeed():
    """The phenomenon itself, on one seed: in-context QA needs two attention layers (copy, then match)."""
    from attnlab.depth import train_depth_model

    _, _, shallow = train_depth_model("icqa", depth=1, seed=0, progress=False)
    _, _, deep = train_depth_model("icqa", depth=2, seed=0, progress=False)
    chance = InContextQA().chance
    assert shallow <= chance + 0.10, f"one layer should stay near chance {chance:.2f}, got {shallow:.3f}"
    assert deep >= 0.95, f"two layers should solve it, got {deep:.3f}"
