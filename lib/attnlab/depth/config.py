"""Part I's set-up: how each depth task is built and trained, one recipe per task, the same for every depth.

Every recipe trains an attention-only transformer (no MLP) with AdamW, warm-up and cosine decay. An attempt stops
early once the test accuracy on a fixed batch reaches its target, or once that accuracy has stopped rising (a
plateau); an attempt that missed the target is followed by a fresh start from new initial weights, up to
`attempts`, and the best attempt on that batch is kept (never on the final test sample). So a depth that can learn
the task stops as soon as it has, and one that cannot uses the whole budget: a shallow model never loses for want
of steps or starts that a deep one got, since the budget is the task's, not the depth's.
"""
from dataclasses import dataclass, field

from ..tasks.depth import TASKS

TASK_NAMES = tuple(TASKS)  # memorization, icqa, template, in_context_template
DEPTHS = (1, 2, 3, 4)
TEST_SIZE = 2000  # prompts in the final test sample (the memorization task uses its whole set)


@dataclass(frozen=True)
class Recipe:
    """How to build and train a model for one task: the same for every depth, so depth is all that changes."""
    task_kwargs: dict = field(default_factory=dict)  # arguments of the task's constructor (defaults if empty)
    width: int = 64
    heads: int = 1
    layer_norm: bool = False
    steps: int = 2000  # the budget of one attempt; an attempt that reaches `target` stops early
    lr: float = 3e-3
    batch_size: int = 64
    target: float = 0.99  # stop when the test accuracy (fixed batch of eval_size) reaches it
    patience: int = 500  # ...or when it has not risen by a point for this many steps (a plateau)
    attempts: int = 4  # fresh starts from new initial weights, while no attempt has reached the target
    eval_every: int = 50
    eval_size: int = 512


RECIPES = {
    # 64 random sequences of 8 tokens, 4 balanced labels: what one layer can store.
    "memorization": Recipe(task_kwargs={"num_sequences": 64, "num_classes": 4}, width=64, heads=1,
                           layer_norm=False, steps=2000, lr=3e-3, target=1.0),
    # No layer norm: two layers find copy-then-match quickly without it.
    "icqa": Recipe(width=64, heads=1, layer_norm=False, steps=2000, lr=3e-3, target=0.99),
    # Many training tokens (1024), so that two layers generalize to unseen ones. One head on purpose: with two,
    # a single layer can tell the templates apart by softmax competition (the two unseen tokens get different
    # weights, and two heads can read where each sits), which would hide the depth threshold (notebook I.3).
    # A long budget per attempt: some two-layer starts climb slowly and steadily to the target (one of 6000 steps).
    "template": Recipe(task_kwargs={"num_train_tokens": 1024}, width=32, heads=1, layer_norm=True, steps=10000,
                       lr=3e-3, target=0.99),
    # One head for the same reason: with two, a label token can parse its own example in the first layer, and
    # two layers would then do much of the task. The task's fixed-map scaffold is what lets any depth learn it at
    # all (see InContextTemplate and notebook I.4). About half the fresh starts of depth 3 find the three-step
    # circuit within 2000 steps, and those that miss stall far below it (60-88%) for ten thousand steps more:
    # six short attempts beat one long run.
    "in_context_template": Recipe(width=64, heads=1, layer_norm=True, steps=2000, lr=3e-3, target=0.97,
                                  attempts=6),
}

# Part I's claims, as bars on the test accuracy of every seed: {task: {depth: (kind, value)}}, where kind is
# "at_least" (an accuracy) or "at_most_above_chance" (a margin over the task's chance level).
BARS = {
    "memorization": {d: ("at_least", 0.99) for d in DEPTHS},
    "icqa": {1: ("at_most_above_chance", 0.10), 2: ("at_least", 0.95), 3: ("at_least", 0.95), 4: ("at_least", 0.95)},
    "template": {2: ("at_least", 0.95), 3: ("at_least", 0.95), 4: ("at_least", 0.95)},
    "in_context_template": {3: ("at_least", 0.90), 4: ("at_least", 0.90)},
}
# ...and claims between depths: (task, deeper, shallower, points): the deeper depth wins by at least these. One
# layer of template matching has no bar near chance: with one head it still reaches 50-65% on unseen tokens early
# in training (it reads where the softmax puts more weight), before it drifts lower by fitting training tokens.
GAPS = [("template", 2, 1, 0.25), ("in_context_template", 3, 2, 0.25)]

# The zoo's one experiment beyond the recipes: in-context template matching without its scaffold, at depth 3.
NO_SCAFFOLD = {"fixed_map": 0}

