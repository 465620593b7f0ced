"""Part I's set-up: how each depth task is built and trained, one recipe per task, the same for every depth.

Every recipe trains an attention-only transformer (no MLP) with AdamW, warm-up and cosine decay, and stops early
once the test accuracy on a fixed batch reaches its target, so that a depth that can learn the task stops as soon
as it has, and a depth that cannot uses the whole budget. A shallow model never loses for want of steps that a
deep one got: the budget is the task's, not the depth's.
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
    steps: int = 2000  # the budget; a run that reaches `target` stops early
    lr: float = 3e-3
    batch_size: int = 64
    target: float = 0.99  # stop when the test accuracy (fixed batch of eval_size) reaches it
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
    # A long budget, because one layer first fits part of the rule and then drifts back towards chance.
    "template": Recipe(task_kwargs={"num_train_tokens": 1024}, width=32, heads=1, layer_norm=True, steps=10000,
                       lr=3e-3, target=0.99),
    # One head for the same reason: with two, a label token can parse its own example in the first layer, and
    # two layers would then do much of the task. Layer norm helps training on most seeds (not yet all: see the
    # README). The task's fixed-map scaffold is what lets any depth learn it at all (see InContextTemplate and
    # notebook I.4).
    "in_context_template": Recipe(width=64, heads=1, layer_norm=True, steps=4000, lr=3e-3, target=0.97),
}

# The zoo's one experiment beyond the recipes: in-context template matching without its scaffold, at depth 3.
NO_SCAFFOLD = {"fixed_map": 0}

