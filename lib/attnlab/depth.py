"""Part I recipes: how deep must an attention-only transformer be for each of the four depth tasks?

For every task, a model config and training settings that the course measured to work on a CPU, and
`train_depth_model` to train one (task, depth, seed). `reproduce` trains every task at depths 1 to 4 for
each seed, prints the table, saves the figure, and returns the JSON of

    python -m attnlab.reproduce depth --seeds 0,1,2 --out results.json

Early stopping: a run stops as soon as its test metric (on a fixed batch) reaches the recipe's target,
so runs that can learn the task stop in seconds, and runs that cannot use their whole step budget.
The accuracy reported is then measured afresh, on a larger test sample (on the whole set for memorization).
"""
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import zoo
from .model import Config, Transformer
from .plots import accuracy_vs_depth
from .tasks.depth import TASKS, InContextTemplate
from .train import History, pick_device, seed_everything, train

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


# Measured on a 2-core CPU with one torch thread.
RECIPES = {
    # 64 random sequences of 8 tokens, 4 balanced labels: one layer stores them in a few hundred steps.
    "memorization": Recipe(task_kwargs={"num_sequences": 64, "num_classes": 4}, width=64, heads=1,
                           layer_norm=False, steps=2000, lr=3e-3, target=1.0),
    # Without layer norm two layers find copy-then-match in a few hundred steps.
    "icqa": Recipe(width=64, heads=1, layer_norm=False, steps=2000, lr=3e-3, target=0.99),
    # Many training tokens (1024) make two layers generalize to unseen ones. One head on purpose: with two
    # heads a single layer reaches ~98% on unseen tokens (softmax weights differ between the two unseen
    # tokens, and two heads can read where each sits). With one head, a long budget matters: one layer
    # first picks that up partly (~55-65%) and drifts back towards chance as it fits the training tokens.
    "template": Recipe(task_kwargs={"num_train_tokens": 1024}, width=32, heads=1, layer_norm=True, steps=10000,
                       lr=3e-3, target=0.99),
    # One head for the same reason as above: with two, a label token can parse its own example in the first
    # layer (softmax competition again), and two layers then reach ~80%. Layer norm made every seed reliable
    # (without it one seed in three stalled near 70-80%). The task's fixed-map scaffold is what lets any depth
    # learn it at all: see InContextTemplate and the Part I.4 notebook.
    "in_context_template": Recipe(width=64, heads=1, layer_norm=True, steps=4000, lr=3e-3, target=0.97),
}


def check_task_name(task_name):
    if task_name not in TASKS:
        raise ValueError(f"unknown task {task_name!r}: choose one of {sorted(TASKS)}")


def make_task(task_name, seed=0, **task_overrides):
    """The task of a recipe, with the recipe's arguments (task_overrides replace some of them, for an
    experiment such as fixed_map=0). The memorization task draws its fixed set of sequences from `seed`,
    so every seed of a study memorizes a different set."""
    check_task_name(task_name)
    kwargs = {**RECIPES[task_name].task_kwargs, **task_overrides}
    if task_name == "memorization":
        kwargs.setdefault("seed", seed)
    return TASKS[task_name](**kwargs)


def make_model(task_name, depth, task=None):
    """An untrained attention-only model with the recipe's config for this task, at the given depth."""
    check_task_name(task_name)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer of at least 1, got {depth!r}")
    task = task or make_task(task_name)
    recipe = RECIPES[task_name]
    config = Config(max_len=task.seq_len, output_dim=task.num_classes, vocab_size=task.vocab_size,
                    width=recipe.width, depth=depth, heads=recipe.heads, mlp=False,
                    layer_norm=recipe.layer_norm, causal=True)
    return Transformer(config)


@torch.no_grad()
def test_accuracy(model, task, seed=0, size=TEST_SIZE):
    """Accuracy on the test split: the whole memorized set, or a fresh seeded sample of `size` prompts."""
    device = next(model.parameters()).device
    if hasattr(task, "all_examples"):
        inputs, targets = task.all_examples()
    else:
        inputs, targets = task.sample(size, torch.Generator().manual_seed(seed + 20_000), "test")
    was_training = model.training
    model.eval()
    accuracy = task.metric(model(inputs.to(device)), targets.to(device))
    model.train(was_training)
    return accuracy


def train_depth_model(task_name, depth, seed, progress=True, **task_overrides):
    """Train one attention-only model of `depth` layers on a Part I task with the recipe's settings
    (task_overrides change the task's arguments, see `make_task`).

    Returns (model, history, accuracy): the trained model (in eval mode), the training History, and the
    accuracy on the test split (see `test_accuracy`).
    """
    check_task_name(task_name)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    recipe = RECIPES[task_name]
    task = make_task(task_name, seed, **task_overrides)
    pick_device()  # sets the CPU thread count before any work
    seed_everything(seed)  # the model's initial weights
    model = make_model(task_name, depth, task)
    history = train(model, task, steps=recipe.steps, batch_size=recipe.batch_size, lr=recipe.lr,
                    eval_every=recipe.eval_every, eval_size=recipe.eval_size, target=recipe.target,
                    seed=seed, progress=progress, desc=f"{task_name}, depth {depth}, seed {seed}")
    accuracy = test_accuracy(model, task, seed)
    return model.eval(), history, accuracy


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


def train_run(task_name, depth, seed=0, progress=True, **task_overrides):
    """Train one model from scratch (see `train_depth_model`) and return it as a live `Run`."""
    model, history, accuracy = train_depth_model(task_name, depth, seed, progress=progress, **task_overrides)
    return Run(task_name, depth, seed, model, history, accuracy, live=True)


# The zoo's one experiment beyond the recipes: in-context template matching without its scaffold, at depth 3.
NO_SCAFFOLD = {"fixed_map": 0}


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
    """Train one zoo model; returns (model, metadata) with seed, steps, metrics and the learning curve."""
    task_overrides = task_overrides or {}
    model, history, accuracy = train_depth_model(task_name, depth, seed, progress=progress, **task_overrides)
    chance = make_task(task_name, seed, **task_overrides).chance
    metadata = {"seed": seed, "steps": history.step[-1], "task_name": task_name, "depth": depth,
                "task_overrides": task_overrides, "metrics": {"accuracy": accuracy, "chance": chance},
                "history": {"step": list(history.step), "loss": list(history.loss), "metric": list(history.metric),
                            "seconds": history.seconds, "stopped_early": history.stopped_early}}
    return model, metadata


def pretrained_run(task_name, depth, **task_overrides):
    """The zoo's model for (task, depth), hash-checked, as a `Run` (live=False); with task_overrides, the zoo's
    model trained with them (only NO_SCAFFOLD for in-context template matching at depth 3 is stored)."""
    check_task_name(task_name)
    model, metadata = zoo.load(zoo_name(task_name, depth, **task_overrides))
    return Run(task_name, depth, metadata["seed"], model, History(**metadata["history"]),
               metadata["metrics"]["accuracy"], live=False)


def zoo_accuracies(task_name):
    """{depth: test accuracy} of the zoo's models for a task, from the manifest (no model is loaded)."""
    check_task_name(task_name)
    entries = zoo.manifest()
    return {d: entries[zoo_name(task_name, d)]["metrics"]["accuracy"] for d in DEPTHS
            if zoo_name(task_name, d) in entries}


def models_by_depth(task_name, live=False, seed=0):
    """{depth: Run} for depths 1 to 4, from the zoo, or trained here when `live`. Under nbgrader
    ($NBGRADER_EXECUTION is set) the zoo is always used, so that grading stays fast."""
    if live and not os.environ.get("NBGRADER_EXECUTION"):
        return {d: train_run(task_name, d, seed) for d in DEPTHS}
    return {d: pretrained_run(task_name, d) for d in DEPTHS}


def summarize(results):
    """{(task, depth): (mean, spread, chance, n)} where spread is (max - min) / 2 over seeds."""
    table = {}
    for row in results:
        table.setdefault((row["task"], row["depth"]), []).append(row)
    summary = {}
    for key, rows in table.items():
        values = [r["accuracy"] for r in rows]
        summary[key] = (sum(values) / len(values), (max(values) - min(values)) / 2, rows[0]["chance"], len(rows))
    return summary


def format_table(results):
    """The task x depth table: mean accuracy +- half the range over seeds, and chance, in percent."""
    summary = summarize(results)
    tasks = [t for t in TASKS if any(k[0] == t for k in summary)]
    depths = sorted({k[1] for k in summary})
    seeds = sorted({r["seed"] for r in results})
    lines = [f"accuracy on the test split, mean +- half range over seeds {seeds} (percent)",
             f"{'task':<22}" + "".join(f"{'depth ' + str(d):>14}" for d in depths) + f"{'chance':>9}"]
    for task in tasks:
        cells = []
        for d in depths:
            if (task, d) in summary:
                mean, spread, chance, _ = summary[(task, d)]
                cells.append(f"{100 * mean:>8.1f} +-{100 * spread:>4.1f}")
            else:
                cells.append(f"{'-':>14}")
        chance = next(v[2] for k, v in summary.items() if k[0] == task)
        lines.append(f"{task:<22}" + "".join(cells) + f"{100 * chance:>9.1f}")
    seconds = [r["seconds"] for r in results]
    lines.append(f"{len(results)} runs, {sum(seconds):.0f} s of training in all, {sum(seconds) / len(seconds):.1f} s per run")
    return "\n".join(lines)


def plot_results(results, path=None):
    """Accuracy against depth, one panel per task (see `plots.accuracy_vs_depth`): every seed as a dot, the
    mean as a line, chance dashed. Returns the matplotlib Figure; saves it to `path` when given."""
    from matplotlib.figure import Figure  # no pyplot: works headless, and in a notebook

    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]
    fig = Figure(figsize=(3.6 * len(tasks), 3.6), layout="constrained")
    for ax, task in zip(fig.subplots(1, len(tasks), sharey=True, squeeze=False)[0], tasks):
        rows = [r for r in results if r["task"] == task]
        by_depth = {}
        for r in rows:
            by_depth.setdefault(r["depth"], []).append(r["accuracy"])
        accuracy_vs_depth(by_depth, rows[0]["chance"], task.replace("_", " "), ax=ax)
    fig.suptitle("What depth buys: accuracy of attention-only transformers against depth")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def reproduce(seeds, out_dir, tasks=None, depths=DEPTHS, progress=False):
    """Train every task at every depth for every seed, from scratch; print the table, save the figure
    `depth_accuracy.png` in out_dir, and return {"kind": "depth", "results": [...]}."""
    tasks = list(TASKS) if tasks is None else list(tasks)
    for task_name in tasks:
        check_task_name(task_name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    start = time.perf_counter()
    for task_name in tasks:
        chance = make_task(task_name).chance
        for depth in depths:
            for seed in seeds:
                _, history, accuracy = train_depth_model(task_name, depth, seed, progress=progress)
                results.append({"task": task_name, "depth": depth, "seed": seed, "accuracy": accuracy,
                                "chance": chance, "seconds": round(history.seconds, 2),
                                "steps": history.step[-1]})
                print(f"{task_name:<20} depth {depth} seed {seed}: accuracy {100 * accuracy:5.1f}% "
                      f"(chance {100 * chance:.1f}%), {history.step[-1]} steps, {history.seconds:.1f} s "
                      f"[{time.perf_counter() - start:.0f} s so far]", flush=True)
    print()
    print(format_table(results))
    figure_path = out_dir / "depth_accuracy.png"
    plot_results(results, figure_path)
    print(f"saved {figure_path}")
    return {"kind": "depth", "results": results}


@torch.no_grad()
def template_circuit(model, task, prompts):
    """Where a one-head-per-layer model looks, on in-context template prompts, at the three steps that the
    course's trained depth-3 models were found to take (averaged over prompts and heads; each in [0, 1]):

    - "labels": at each example's last token, the attention on the label tokens before it: a summary of the
      labels so far, weighted by their position, copied to every position;
    - "parse": at each example's last token, the attention on the earlier token equal to it (where it sits
      says the template: AABB, ABAB or ABBA);
    - "match": at the query's last token, the attention on the last tokens of the context examples that fill
      the query's template.

    Returns {step: [share in layer 0, share in layer 1, ...]}, so that each step's layer can be read off.
    """
    if not isinstance(task, InContextTemplate):
        raise ValueError(f"template_circuit reads in-context template prompts: task must be an InContextTemplate, "
                         f"got {type(task).__name__}")
    if prompts.dim() != 2 or prompts.shape[1] != task.seq_len:
        raise ValueError(f"prompts must have shape (batch, {task.seq_len}), got {tuple(prompts.shape)}")
    _, cache = model.run_with_cache(prompts)
    ends = task.answer_positions()  # the last token of every example, then the query's
    rows = torch.arange(len(prompts))
    is_label = prompts >= task.label_offset  # (B, T)
    equal_at = torch.stack([(prompts[:, e - 3:e] == prompts[:, e:e + 1]).long().argmax(1) + e - 3
                            for e in ends.tolist()], dim=1)  # (B, k + 1): the earlier equal token's position
    template = equal_at - ends  # -1, -2 or -3 for AABB, ABAB, ABBA: the last token's distance to its equal
    same_as_query = template[:, :-1] == template[:, -1:]  # (B, k)
    shares = {"labels": [], "parse": [], "match": []}
    for pattern in cache["pattern"]:
        pattern = pattern.mean(1)  # (B, T, T), averaged over heads
        at_ends = pattern[:, ends]  # (B, k + 1, T)
        shares["labels"].append((at_ends * is_label[:, None]).sum(-1).mean().item())
        shares["parse"].append(at_ends.gather(2, equal_at[:, :, None]).mean().item())
        on_examples = pattern[rows, -1][:, ends[:-1]]  # (B, k): the query's attention on each example's end
        shares["match"].append((on_examples * same_as_query).sum(1).mean().item())
    return shares
