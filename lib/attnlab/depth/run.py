"""Part I's runs: build and train one model for (task, depth, seed), measure it, and store or load it in the zoo."""
from dataclasses import dataclass

import torch

from .. import seeds, zoo
from ..check import autograding
from ..model import Config, Transformer
from ..tasks.depth import TASKS
from ..train import History, pick_device, seed_everything, train
from . import config
from .config import DEPTHS, NO_SCAFFOLD, TEST_SIZE


def check_task_name(task_name):
    if task_name not in TASKS:
        raise ValueError(f"unknown task {task_name!r}: choose one of {sorted(TASKS)}")


def make_task(task_name, seed=0, **task_overrides):
    """The task of a recipe, with the recipe's arguments (task_overrides replace some of them, for an
    experiment such as fixed_map=0). The memorization task draws its fixed set of sequences from `seed`,
    so every seed of a study memorizes a different set.

    Notebooks: I.1, I.2, I.3, I.4, I.5"""
    check_task_name(task_name)
    kwargs = {**config.RECIPES[task_name].task_kwargs, **task_overrides}
    if task_name == "memorization":
        kwargs.setdefault("seed", seed)
    return TASKS[task_name](**kwargs)


def make_model(task_name, depth, task=None):
    """An untrained attention-only model with the recipe's config for this task, at the given depth.

    Notebooks: I.3"""
    check_task_name(task_name)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer of at least 1, got {depth!r}")
    task = task or make_task(task_name)
    recipe = config.RECIPES[task_name]
    return Transformer(Config(max_len=task.seq_len, output_dim=task.num_classes, vocab_size=task.vocab_size,
                              width=recipe.width, depth=depth, heads=recipe.heads, mlp=False,
                              layer_norm=recipe.layer_norm, causal=True))


@torch.no_grad()
def test_accuracy(model, task, seed=0, size=TEST_SIZE):
    """Accuracy on the test split: the whole memorized set, or a fresh seeded sample of `size` prompts. The model may
    be on any device (it moves the prompts there)."""
    if hasattr(task, "all_examples"):
        inputs, targets = task.all_examples()
    else:
        inputs, targets = task.sample(size, seeds.generator(seed, "final_test"), "test")
    was_training = model.training
    model.eval()
    outputs = model(inputs)
    accuracy = task.metric(outputs, targets.to(outputs.device))
    model.train(was_training)
    return accuracy


def train_depth_model(task_name, depth, seed, progress=True, **task_overrides):
    """Train one attention-only model of `depth` layers on a Part I task with the recipe's settings
    (task_overrides change the task's arguments, see `make_task`).

    An attempt ends at the recipe's target, on a plateau (`patience`) or at its last step. One that missed the
    target is followed by a fresh start from new initial weights (`seeds.restart_seed`), on the same batches,
    up to `recipe.attempts` in all; the attempt kept is the one that scored best on the early-stopping batch,
    so the choice never sees the final test sample.

    Training runs on `train.pick_device()` ($ATTNLAB_DEVICE, else CUDA, then MPS, then the CPU).

    Returns (model, history, accuracy): the kept model (on the CPU, in eval mode), its training History
    (`history.attempts` lists [steps, score, seconds] of every attempt), and its accuracy on the test split (see
    `test_accuracy`).
    """
    check_task_name(task_name)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    recipe = config.RECIPES[task_name]
    task = make_task(task_name, seed, **task_overrides)
    pick_device()  # sets the CPU thread count before any work
    kept, attempts = None, []
    for attempt in range(recipe.attempts):
        seed_everything(seeds.restart_seed(seed, attempt))  # the model's initial weights
        model = make_model(task_name, depth, task)
        history = train(model, task, steps=recipe.steps, batch_size=recipe.batch_size, lr=recipe.lr,
                        eval_every=recipe.eval_every, eval_size=recipe.eval_size, target=recipe.target,
                        patience=recipe.patience, seed=seed, progress=progress,
                        desc=f"{task_name}, depth {depth}, seed {seed}, attempt {attempt + 1}")
        attempts.append([history.step[-1], history.final, history.seconds])
        if kept is None or history.final > kept[1].final:
            kept = model, history
        if history.final >= recipe.target:
            break
    model, history = kept
    history.attempts = attempts
    return model.eval(), history, test_accuracy(model, task, seed)


@dataclass
class Run:
    """One trained model of the study, live or from the zoo, with what the explorer shows about it."""
    task_name: str
    depth: int
    seed: int
    model: Transformer
    history: History
    accuracy: float
    live: bool

    def origin(self):
        """Where the model comes from, as a notebook prints it: how long it trained here, or the zoo.

        Notebooks: I.1, I.2, I.3, I.4"""
        if self.live:
            return f"trained here in {self.history.seconds:.1f} s ({self.history.step[-1]} steps)"
        return "the zoo's model (grading loads it instead of training)"


def train_run(task_name, depth, seed=0, progress=True, **task_overrides):
    """Train one model from scratch (see `train_depth_model`) and return it as a live `Run`. Under nbgrader
    ($NBGRADER_EXECUTION is set) the zoo's model for seed 0 instead (its `live` says which): grading runs every
    student's notebooks twice (see attnlab.grading), and a notebook's live training is there for the student to
    watch, not for any test.

    Notebooks: I.1, I.2, I.3, I.4"""
    if autograding() and seed == 0:
        return pretrained_run(task_name, depth, **task_overrides)
    model, history, accuracy = train_depth_model(task_name, depth, seed, progress=progress, **task_overrides)
    return Run(task_name, depth, seed, model, history, accuracy, live=True)


def zoo_name(task_name, depth, **task_overrides):
    """e.g. depth/icqa_2, or depth/in_context_template_3_fixed_map0 for a model trained with task_overrides."""
    return f"depth/{task_name}_{depth}" + "".join(f"_{key}{value:g}" for key, value in sorted(task_overrides.items()))


def zoo_recipes():
    """The zoo's Part I models: every task at every depth, seed 0, and in-context template matching at depth 3
    without its scaffold ({name: kwargs of build_zoo_model})."""
    recipes = {zoo_name(t, d): {"task_name": t, "depth": d, "seed": 0} for t in TASKS for d in DEPTHS}
    name = zoo_name("in_context_template", 3, **NO_SCAFFOLD)
    recipes[name] = {"task_name": "in_context_template", "depth": 3, "seed": 0, "task_overrides": NO_SCAFFOLD}
    return recipes


def build_zoo_model(task_name, depth, seed=0, task_overrides=None, progress=True):
    """Train one zoo model; returns (model, metadata) with seed, steps, metrics, the kept attempt's learning curve
    and every attempt's [steps, score, seconds]."""
    task_overrides = task_overrides or {}
    model, history, accuracy = train_depth_model(task_name, depth, seed, progress=progress, **task_overrides)
    chance = make_task(task_name, seed, **task_overrides).chance
    metadata = {"seed": seed, "steps": history.step[-1], "task_name": task_name, "depth": depth,
                "task_overrides": task_overrides, "metrics": {"accuracy": accuracy, "chance": chance},
                "history": {"step": list(history.step), "loss": list(history.loss), "metric": list(history.metric),
                            "seconds": history.seconds, "stopped_early": history.stopped_early,
                            "plateaued": history.plateaued, "attempts": history.attempts}}
    return model, metadata


def pretrained_run(task_name, depth, **task_overrides):
    """The zoo's model for (task, depth), hash-checked, as a `Run` (live=False); with task_overrides, the zoo's
    model trained with them (only NO_SCAFFOLD for in-context template matching at depth 3 is stored).

    Notebooks: I.1, I.2, I.3, I.4, I.5"""
    check_task_name(task_name)
    model, metadata = zoo.load(zoo_name(task_name, depth, **task_overrides))
    return Run(task_name, depth, metadata["seed"], model, History(**metadata["history"]),
               metadata["metrics"]["accuracy"], live=False)


def zoo_accuracies(task_name):
    """{depth: test accuracy} of the zoo's models for a task, from the manifest (no model is loaded).

    Notebooks: I.5"""
    check_task_name(task_name)
    entries = zoo.manifest()
    return {d: entries[zoo_name(task_name, d)]["metrics"]["accuracy"] for d in DEPTHS
            if zoo_name(task_name, d) in entries}


def models_by_depth(task_name, live=False, seed=0):
    """{depth: Run} for depths 1 to 4, from the zoo, or trained here when `live`. Under nbgrader
    ($NBGRADER_EXECUTION is set) the zoo is always used, so that grading stays fast.

    Notebooks: I.1, I.2, I.3, I.4"""
    if live and not autograding():
        return {d: train_run(task_name, d, seed) for d in DEPTHS}
    return {d: pretrained_run(task_name, d) for d in DEPTHS}

