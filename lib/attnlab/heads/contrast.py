"""Part II's layer contrast: measurements that can tell layer 1 from the later layers, on one seed.

- `ablation_rows`: every head of the default model removed alone, by zero- and by mean-ablation;
- `architecture_mask`, `train_with_heads_removed`: models trained from scratch with fewer heads in chosen layers
  (config.ARCHITECTURES), and the pruned default model fine-tuned with its heads still removed (config.FINE_TUNE);
- `layer_contrast`: all of it for one trained default model, as JSON rows plus per-prompt errors to pair.

Layers and heads in these JSON rows are numbered from 1, as the course's prose counts them (layer 1 is the first
layer), unlike the tensors and lists of the code, which count from 0 as Python does.
"""
import copy
import time

import torch

from .. import analysis as an
from ..train import train
from .config import ARCHITECTURES, FINE_TUNE, TRAINING, claim_range
from .run import make_model

PRUNED_FINE_TUNED = "pruned, fine-tuned"


def architecture_mask(heads_per_layer, heads):
    """(layers, heads) 0/1: in layer l, its first heads_per_layer[l] heads kept, the others removed."""
    if not heads_per_layer or any(not 1 <= k <= heads for k in heads_per_layer):
        raise ValueError(f"heads_per_layer must be a non-empty list of counts from 1 to {heads}, got {heads_per_layer}")
    return torch.tensor([[1.0 if h < k else 0.0 for h in range(heads)] for k in heads_per_layer])


def architecture_label(heads_per_layer):
    return "heads " + ",".join(str(k) for k in heads_per_layer)


def train_with_heads_removed(model, task, mask, seed, training, progress=True, desc="training"):
    """Train `model` (in place) with the heads where mask is 0 removed from every pass; returns the History.

    `train` takes no head mask; analysis.ablated removes the heads for it. A removed head writes nothing and gets
    no gradient, so its weights never move (AdamW with TRAINING's zero weight decay; the clipped gradient norm is the
    same without them): trained from scratch, this IS a transformer with heads_per_layer[l] heads in layer l, each
    of width width / heads (8 in the default model), the heads of the default model, fewer of them. Its limit:
    Config(heads=1) would give one head of the full width instead, a larger head than these."""
    with an.ablated(model, mask):
        history = train(model, task, seed=seed, progress=progress, desc=desc, **training)
    return history


def ablation_rows(model, task, prompts, seed):
    """(rows, importance): JSON rows {seed, layer, head, kind, risk, rise}, the mean risk over the claim range with
    that one head removed (kind "zero": its output set to 0; "mean": replaced by its mean over the prompts, per n
    and position) and its rise above the full model's; and {kind: (layers, heads) rises}."""
    rng = claim_range(task)
    full = an.mean_risk(model, task, prompts, None, rng)
    importance = {kind: an.head_importance(model, task, prompts, rng, kind=kind) for kind in an.ABLATIONS}
    rows = [{"seed": seed, "layer": layer + 1, "head": head + 1, "kind": kind, "risk": full + value, "rise": value}
            for kind, rise in importance.items() for layer, values in enumerate(rise.tolist())
            for head, value in enumerate(values)]
    return rows, importance


def layer_contrast(run, task, prompts, steps=None, fine_tune_steps=None, progress=True):
    """The layer contrast of one trained default model (a HeadsRun) and its seed, measured on `prompts`.

    steps, fine_tune_steps: override TRAINING's and FINE_TUNE's steps (for a quick run). Returns (rows, errors,
    seconds): rows {"architectures", "ablation", "pruning"} (JSON rows; the pruning by zero-ablation without
    fine-tuning is analyse's), errors {label: (B, n + 1) per-prompt squared errors on `prompts`} for pairing, and
    {job: seconds of training}."""
    model, seed, rng = run.model, run.seed, claim_range(task)
    ablation, importance = ablation_rows(model, task, prompts, seed)
    rows = {"ablation": ablation, "architectures": [], "pruning": []}
    # Pruning by mean-ablation keeps the top head by mean-ablation; the rest of the study keeps analyse's choice.
    rows["pruning"] += [{"seed": seed, "variant": variant, "kind": "mean", "fine_tune_steps": 0, "risk": risk}
                        for variant, risk in an.pruning_risks(model, task, prompts, importance["mean"],
                                                              ("pruned", "first_layer_one_head"), rng, "mean").items()]
    errors, seconds = {}, {}
    training = {**TRAINING, **({"steps": steps} if steps else {})}
    for heads_per_layer in ARCHITECTURES:
        label = architecture_label(heads_per_layer)
        mask = architecture_mask(heads_per_layer, run.heads)
        if mask.all():  # (H, H, H) with the one recipe is the default model itself: no second training
            trained = model
        else:
            start = time.perf_counter()
            trained = make_model(task, run.layers, run.heads, seed)
            train_with_heads_removed(trained, task, mask, seed, training, progress, f"{label} seed={seed}")
            seconds[label] = time.perf_counter() - start
        errors[label] = an.errors_by_n(trained.eval(), task, prompts, head_mask=mask)
        rows["architectures"].append({"seed": seed, "heads_per_layer": list(heads_per_layer),
                                      "risk": errors[label][:, list(rng)].mean().item()})

    # Fine-tuning starts from the trained default model with the heads of the "pruned" variant removed; its batches
    # are the first steps of the seed's training stream again: training data, seen once, no measurement's prompts.
    mask = an.pruning_mask(importance["zero"], "pruned")
    tuned, start = copy.deepcopy(model), time.perf_counter()
    tune_steps = fine_tune_steps or FINE_TUNE["steps"]
    train_with_heads_removed(tuned, task, mask, seed, {**TRAINING, **FINE_TUNE, "steps": tune_steps,
                                                       "eval_every": min(TRAINING["eval_every"], tune_steps)},
                             progress, f"pruned, fine-tuned seed={seed}")
    seconds[PRUNED_FINE_TUNED] = time.perf_counter() - start
    errors[PRUNED_FINE_TUNED] = an.errors_by_n(tuned.eval(), task, prompts, head_mask=mask)
    rows["pruning"].append({"seed": seed, "variant": "pruned", "kind": "zero", "fine_tune_steps": tune_steps,
                            "risk": errors[PRUNED_FINE_TUNED][:, list(rng)].mean().item()})
    return rows, errors, seconds
