"""Part II from scratch, seed by seed, into one JSON of flat rows:

    python -m attnlab.reproduce heads --seeds 0-4 --out part1.json     # two processes, five seeds each...
    python -m attnlab.reproduce heads --seeds 5-9 --out part2.json
    python -m attnlab.reproduce heads --merge part1.json part2.json --out heads_seeds0-9.json   # ...then one file

For each seed, `reproduce` trains the default model and the softmax contrast of the same recipe and measures them
(`run.analyse`); runs the layer contrast on the default model (`contrast.layer_contrast`: zero- and
mean-ablation, the other architectures, the pruned model fine-tuned); scores every baseline on the model's own
evaluation prompts, tuned on prompts of its own (`paired_study`); and pairs the predictors prompt by prompt.
The hand-built constructions are measured once, on the first seed ("construction": attnlab.construction;
"construction_layernorm": the one whose layer norm divides, see construction_study.layernorm_study).

Rows (layers and heads from 0 in "importance" and "probing", as the code counts; from 1 in "ablation", as the
prose does; see contrast):
  risk {method, attention, layers, heads, seed, n, risk}; importance {..., layer, head, importance};
  probing {..., layer, risk}; pruning {seed, variant, kind, fine_tune_steps, risk} ("zero" and 0 when absent);
  ablation {seed, layer, head, kind, risk, rise}; architectures {seed, heads_per_layer, risk};
  paired {seed, a, b, ns, mean_diff, ci}: a minus b, per prompt averaged over the n in ns, with its 95% interval;
  probing_reference, reweighting, seconds {seed, job, seconds}.
Each seed costs about 62k training steps at the full recipe (see the README's "Reproducing the science").
"""
import json
import time
from pathlib import Path

from .. import analysis as an
from ..train import pick_device
from .config import (ARCHITECTURES, CONTRAST, EVAL_PROMPTS, FINE_TUNE, GD_STEPS, HEADS, LAYERS, MODEL, POSITIONS, TASK,
                     TRAINING)
from .construction_study import construction_study, layernorm_study
from .contrast import PRUNED_FINE_TUNED, architecture_label, layer_contrast
from .paired_study import PAIRED_METHODS, baseline_errors, paired_rows
from .report import plot, print_tables
from .run import analyse, layer1_reweighting, make_task, probing_reference, prompts, train_run

ROW_KINDS = ("risk", "importance", "pruning", "probing", "probing_reference", "reweighting", "seconds", "ablation",
             "architectures", "paired")


def _model_rows(run, analysis, seconds):
    """The JSON rows of one trained model."""
    key = {"attention": run.attention, "layers": run.layers, "heads": run.heads, "seed": run.seed}
    rows = {"risk": [{"method": "transformer", **key, "n": n, "risk": r} for n, r in enumerate(analysis.risk_by_n)],
            "probing": [{**key, "layer": layer, "risk": r} for layer, r in enumerate(analysis.probing)],
            "seconds": [{"seed": run.seed, "job": run.label, "seconds": seconds}]}
    if analysis.importance is not None:
        rows["importance"] = [{**key, "layer": layer, "head": head, "importance": value}
                              for layer, row in enumerate(analysis.importance) for head, value in enumerate(row)]
    return rows


def _pairs(default, softmax):
    """Which predictors are paired: both models against every baseline and each other, each other architecture
    against (H, H, H), the pruned and fine-tuned model against the full one."""
    full = architecture_label(ARCHITECTURES[0])
    return ([(model, method) for model in (default, softmax) for method in PAIRED_METHODS] + [(softmax, default)]
            + [(architecture_label(a), full) for a in ARCHITECTURES[1:]] + [(PRUNED_FINE_TUNED, default)])


def reproduce(seeds, out_dir, layers=LAYERS, heads=HEADS, steps=None, fine_tune_steps=None, num_prompts=None,
              progress=True):
    """Train, measure and plot for each seed; returns the JSON-ready results (see the module's doc).

    steps, fine_tune_steps, num_prompts: override TRAINING's steps (every model), FINE_TUNE's steps and
    EVAL_PROMPTS (every measurement), for a quick run; the JSON's "config" records what was used."""
    if not seeds:
        raise ValueError("give at least one seed")
    for name, value in (("steps", steps), ("fine_tune_steps", fine_tune_steps), ("num_prompts", num_prompts)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 (or None for the recipe's), got {value}")
    pick_device()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)  # before any training: a bad path fails now, not in an hour
    task, num_prompts = make_task(), num_prompts or EVAL_PROMPTS
    training = {**TRAINING, **({"steps": steps} if steps else {})}
    results = {"kind": "heads", "config": {"task": TASK, "d": task.d, "s": task.s, "layers": layers, "heads": heads,
                                           "model": MODEL, "contrast": CONTRAST, "training": training,
                                           "positions": POSITIONS, "gd_steps": GD_STEPS, "eval_prompts": num_prompts,
                                           "architectures": [list(a) for a in ARCHITECTURES],
                                           "fine_tune": {**FINE_TUNE, **({"steps": fine_tune_steps} if fine_tune_steps
                                                                         else {})}},
               **{kind: [] for kind in ROW_KINDS}}
    for seed in seeds:
        P = prompts(task, seed, "measure", num_prompts)
        runs = {}
        for contrast in (False, True):
            start = time.perf_counter()
            run = train_run(layers, heads, seed, progress=progress, contrast=contrast, task=make_task(),
                            training={"steps": training["steps"]})
            seconds = time.perf_counter() - start
            print(f"trained {run.label} seed={seed} in {seconds:.0f} s; final test risk {run.history.final:.3f}",
                  flush=True)
            run.analysis = analyse(run.model, task, seed, num_prompts)
            for key, rows in _model_rows(run, run.analysis, seconds).items():
                results[key] += rows
            results["reweighting"] += [{"seed": seed, "model": run.label, "candidate": k, "r2": v}
                                       for k, v in layer1_reweighting(run.model, task, seed, num_prompts).items()]
            runs[contrast] = run
        default, softmax = runs[False], runs[True]
        if seed == seeds[0]:
            first_model = default.model  # the construction that divides is scored beside it, on the same prompts
        results["pruning"] += [{"seed": seed, "variant": v, "kind": "zero", "fine_tune_steps": 0, "risk": r}
                               for v, r in default.analysis.pruning.items()]
        rows, errors, seconds = layer_contrast(default, task, P, training["steps"], fine_tune_steps, progress)
        for key, value in rows.items():
            results[key] += value
        results["seconds"] += [{"seed": seed, "job": job, "seconds": s} for job, s in seconds.items()]
        errors[default.label] = errors[architecture_label(ARCHITECTURES[0])]  # (H, H, H) is the default model
        errors[softmax.label] = an.errors_by_n(softmax.model, task, P)
        baselines = baseline_errors(task, seed, P)
        errors.update(baselines)
        results["risk"] += [{"method": method, "layers": None, "heads": None, "seed": seed, "n": n, "risk": r}
                            for method, e in baselines.items() for n, r in enumerate(e.mean(0).tolist())]
        results["paired"] += paired_rows(seed, errors, _pairs(default.label, softmax.label), task)
        results["probing_reference"] += [{"seed": seed, **row} for row in probing_reference(task, seed, layers,
                                                                                            num_prompts)]
    results["construction"] = construction_study(task, seeds[0], steps=layers - 1, num_prompts=num_prompts)
    results["construction_layernorm"] = layernorm_study(task, seeds[0], num_prompts=num_prompts, model=first_model)
    print_tables(results)
    for path in plot(results, out_dir):
        print(f"saved {path}")
    return results


def merge(parts):
    """One reproduction from several of the same recipe on different seeds (two processes of five seeds each, say):
    their rows together, and the construction of the part with the lowest seed, as a single run would have it."""
    if len(parts) < 2 or any(part.get("kind") != "heads" for part in parts):
        raise ValueError("merge takes two or more heads reproductions")
    if len({json.dumps(part["config"], sort_keys=True) for part in parts}) > 1:
        raise ValueError("the parts were run with different configs: their rows cannot be pooled")
    seeds = [sorted({row["seed"] for row in part["risk"]}) for part in parts]
    if len({s for part in seeds for s in part}) != sum(len(part) for part in seeds):
        raise ValueError(f"the parts share seeds: {seeds}")
    first = min(range(len(parts)), key=lambda i: seeds[i][0])
    merged = {"kind": "heads", "config": parts[0]["config"],
              **{kind: [row for part in parts for row in part.get(kind, [])] for kind in ROW_KINDS}}
    for key in ("construction", "construction_layernorm"):
        merged[key] = parts[first][key]
    return merged
