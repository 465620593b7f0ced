"""Every predictor of Part II on the same prompts: the baselines, tuned on prompts of their own, are scored on the
evaluation prompts the model is scored on (seeds stream "measure"), so that any two can be compared prompt by
prompt (attnlab.paired).

- `baseline_errors`: per-prompt squared errors of each baseline after 0..n examples, on given prompts;
- `baseline_curves`: their mean, on the model's prompts: the risk curves every table and figure shows;
- `paired_rows`: the JSON rows of a reproduction's paired differences; `minus_ridge`: II.2's live comparison.
"""
import dataclasses

import torch

from .. import analysis as an
from .. import baselines as bl
from .. import paired
from ..seeds import generator
from ..tasks.regression import sample_prompts
from .config import EVAL_PROMPTS, GD_STEPS, LAYERS, METHODS, claim_range

# The hand-built construction (attnlab.construction) with LAYERS - 1 gradient layers computes correlation_gd with
# that many steps exactly (heads.construction_exactness), so it is scored here as that algorithm, tuned like the rest.
CONSTRUCTION = "construction"
PAIRED_METHODS = METHODS + (CONSTRUCTION,)
TUNING_PROMPTS = 2000


def _float64(prompts):
    """The prompts with their real-valued fields in float64, as the baselines are computed (support stays bool)."""
    return dataclasses.replace(prompts, **{f.name: getattr(prompts, f.name).double()
                                           for f in dataclasses.fields(prompts)
                                           if getattr(prompts, f.name).is_floating_point()})


def baseline_errors(task, seed, prompts, methods=PAIRED_METHODS, steps=GD_STEPS):
    """{method: (B, n + 1)}: each method's squared error on each of `prompts` after 0..n examples, its
    hyperparameters tuned per n on TUNING_PROMPTS prompts of the seed's "baselines" stream (never on `prompts`).
    steps: k for gd and preprocess_gd; the construction takes LAYERS - 1.

    Notebooks: II.2"""
    unknown = set(methods) - set(PAIRED_METHODS)
    if unknown:
        raise ValueError(f"methods must be among {PAIRED_METHODS}, got {sorted(unknown)}")
    tuning = sample_prompts(TUNING_PROMPTS, task.d, task.s, prompts.n, task.sigma, generator(seed, "baselines"),
                            torch.float64)
    P = _float64(prompts)
    step_counts = {"gd": steps, "preprocess_gd": steps, CONSTRUCTION: LAYERS - 1}
    errors = {}
    for method in methods:
        algorithm = "correlation_gd" if method == CONSTRUCTION else method
        fixed = {"steps": step_counts[method]} if method in step_counts else {}
        columns = []
        for n in range(P.n + 1):
            params, _ = bl.tune(algorithm, tuning.first(n), **fixed)
            columns.append((bl.predict(algorithm, P.first(n), **params) - P.target) ** 2)
        errors[method] = torch.stack(columns, 1)
    return errors


def baseline_curves(task, seed, methods=METHODS, steps=GD_STEPS, num_prompts=EVAL_PROMPTS):
    """{method: risk after 0..n examples}: each method tuned per n on its own prompts, scored on the seed's
    evaluation prompts, the very prompts `heads.analyse` scores the model on."""
    P = task.prompts(num_prompts, generator(seed, "measure"))
    return {m: e.mean(0).tolist() for m, e in baseline_errors(task, seed, P, methods, steps).items()}


def paired_rows(seed, errors, pairs, task):
    """JSON rows {seed, a, b, ns, mean_diff, ci} for each (a, b) of `pairs` (names of `errors`, {name: (B, n + 1)}
    per-prompt errors on the same prompts): a minus b at each n = 1..task.n (ns = [n]), and averaged prompt by
    prompt over the claim range (ns = [s, ..., d]). A negative mean_diff says a is better; ci is its 95% interval
    over prompts (paired.paired_difference)."""
    groups = [[n] for n in range(1, task.n + 1)] + [list(claim_range(task))]
    rows = []
    for a, b in pairs:
        for ns in groups:
            mean, ci = paired.paired_difference(errors[a][:, ns].mean(1), errors[b][:, ns].mean(1))
            rows.append({"seed": seed, "a": a, "b": b, "ns": ns, "mean_diff": mean, "ci": list(ci)})
    return rows


def minus_ridge(model, task, prompts, tuning):
    """(mean, half-width of its 95% interval): the model's squared error minus tuned ridge's on the same prompts,
    prompt by prompt, averaged over n = s..d. Ridge's penalty is tuned for each n on the prompts `tuning`.

    Notebooks: II.2"""
    model_errors = an.errors_by_n(model, task, prompts)
    rng = list(claim_range(task))
    ridge_errors = []
    for n in rng:
        lam, _ = bl.tune("ridge", tuning.first(n))
        ridge_errors.append((bl.predict("ridge", prompts.first(n), **lam) - prompts.target) ** 2)
    mean, (low, high) = paired.paired_difference(model_errors[:, rng].mean(1), torch.stack(ridge_errors, 1).mean(1))
    return mean, (high - low) / 2
