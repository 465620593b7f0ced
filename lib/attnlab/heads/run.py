"""Training and measuring Part II's models.

- `train_run` trains one model and returns a `HeadsRun` (the model, its History, and what was measured on it);
  `pretrained` and `default_model` give the zoo's runs, the same type.
- `analyse` takes the course's measurements of a model: an `Analysis` (risk against n, head importance,
  pruning, probing).
- `probing_reference`: gd and preprocess_gd after k steps, beside the probe (the baselines' risk curves, on the
  model's own prompts, are `paired_study.baseline_curves`).
- `layer1_reweighting`: how much of the first layer's output at the query is the reweighting x_q * c.
"""
import functools
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .. import analysis as an
from .. import baselines as bl
from .. import zoo
from ..check import autograding
from ..model import Config, Transformer, load, save
from ..seeds import generator
from ..tasks.regression import SparseRegression, sample_prompts
from ..train import History, pick_device, train
from .config import (CONTRAST, EVAL_PROMPTS, HEADS, LAYERS, LIVE_TRAINING, MODEL, POSITIONS, TASK, TRAINING, ZOO_HEADS,
                     ZOO_LAYERS, claim_range)
from .paired_study import baseline_curves


def make_task(**overrides):
    """The study's task (config.TASK), with some of its arguments replaced.

    Notebooks: II.1, II.2, II.3, II.4, II.5"""
    return SparseRegression(**{**TASK, **overrides})


def make_model(task, layers=LAYERS, heads=HEADS, seed=0, positions=POSITIONS, **model_overrides):
    """A fresh transformer for the task, initialised from `seed`; model_overrides replace keys of MODEL.

    Notebooks: II.2, II.5"""
    if positions not in ("learned", "sinusoidal", "zero"):
        raise ValueError(f"positions must be 'learned', 'sinusoidal' or 'zero', got {positions!r}")
    unknown = set(model_overrides) - set(Config.__dataclass_fields__)
    if unknown:
        raise ValueError(f"not a Config field: {sorted(unknown)}")
    torch.manual_seed(seed)
    cfg = Config(max_len=task.seq_len, output_dim=1, input_dim=task.input_dim, depth=layers, heads=heads,
                 **{**MODEL, **model_overrides})
    model = Transformer(cfg)
    with torch.no_grad():
        if positions == "zero":
            model.pos.weight.zero_()
        elif positions == "sinusoidal":
            T, C = model.pos.weight.shape
            t = torch.arange(T, dtype=torch.float32)[:, None]
            freq = torch.exp(-math.log(100.0) * torch.arange(0, C, 2, dtype=torch.float32) / C)
            model.pos.weight[:, 0::2], model.pos.weight[:, 1::2] = torch.sin(t * freq), torch.cos(t * freq)
    return model


@dataclass
class Analysis:
    """What the course measures on one model. Mean risks average over n = s..d (`claim_range`)."""
    risk_by_n: list  # excess risk after 0, 1, ..., n examples
    mean_risk: float
    probing: list  # the probe's risk entering each layer; the last entry reads the output of the last layer
    importance: list | None = None  # (layers, heads): the rise in mean risk when that head alone is masked
    shares: list | None = None  # (layers, heads): each head's share of its layer's importance
    pruning: dict | None = None  # {variant: mean risk}, see analysis.PRUNING_VARIANTS


@dataclass
class HeadsRun:
    """One model of the study, trained here (live) or from the zoo, with what was measured on it."""
    model: Transformer
    history: History
    task: SparseRegression
    seed: int
    analysis: Analysis | None = None
    baselines: dict | None = None  # {method: risk after 0..n examples}, tuned on the same seed's prompts
    live: bool = True

    @property
    def layers(self):
        return self.model.cfg.depth

    @property
    def heads(self):
        return self.model.cfg.heads

    @property
    def attention(self):
        return self.model.cfg.attention

    @property
    def label(self):
        return f"{self.attention} L={self.layers} H={self.heads}"

    def mean_risks(self):
        """{"transformer": ..., method: ...}: mean risk over n = s..d of the model and of every baseline."""
        rng = claim_range(self.task)
        curves = {"transformer": self.analysis.risk_by_n, **(self.baselines or {})}
        return {name: sum(curve[n] for n in rng) / len(rng) for name, curve in curves.items()}


def train_run(layers=LAYERS, heads=HEADS, seed=0, progress=True, contrast=False, task=None, training=None,
              **model_overrides):
    """Train one model from scratch on the default task; returns a HeadsRun (not yet analysed).

    contrast: the course's contrast (CONTRAST: softmax attention) instead of the default. training: keys of
    TRAINING to change (steps, lr, ...). model_overrides: keys of MODEL to change (width, layer_norm, ...).
    """
    if layers < 1 or heads < 1:
        raise ValueError(f"layers and heads must be at least 1, got {layers} and {heads}")
    unknown = set(training or {}) - set(TRAINING)
    if unknown:
        raise ValueError(f"training takes keys of heads.TRAINING {sorted(TRAINING)}, got {sorted(unknown)}")
    pick_device()  # sets the CPU thread count before any work
    task = make_task() if task is None else task
    model = make_model(task, layers, heads, seed, **{**(CONTRAST if contrast else {}), **model_overrides})
    history = train(model, task, seed=seed, progress=progress, desc=f"{model.cfg.attention} L={layers} H={heads} "
                    f"seed={seed}", **{**TRAINING, **(training or {})})
    return HeadsRun(model.eval(), history, task, seed)  # train hands the model back on the CPU


def prompts(task, seed, purpose, num_prompts=EVAL_PROMPTS):
    """Evaluation prompts of one purpose (see attnlab.seeds), never seen in training.

    Notebooks: II.2"""
    return task.prompts(num_prompts, generator(seed, purpose))


def analyse(model, task, seed, num_prompts=None):
    """Everything the course measures on one trained model, as an Analysis of plain Python numbers."""
    P = prompts(task, seed, "measure", num_prompts or EVAL_PROMPTS)
    fit, test = (prompts(task, seed, purpose, num_prompts or EVAL_PROMPTS) for purpose in ("probe_fit", "probe_test"))
    rng = claim_range(task)
    result = Analysis(risk_by_n=an.risk_by_n(model, task, P).tolist(), mean_risk=an.mean_risk(model, task, P, None, rng),
                      probing=an.probe(model, task, fit, test).tolist())
    if model.cfg.heads > 1:
        importance = an.head_importance(model, task, P, rng)
        result.importance = importance.tolist()
        result.shares = an.importance_shares(importance).tolist()
        result.pruning = an.pruning_risks(model, task, P, importance, n_values=rng)
    return result


@functools.lru_cache(maxsize=None)
def _default_baselines(seed):
    return baseline_curves(make_task(), seed)


def probing_reference(task, seed, max_steps, num_prompts=EVAL_PROMPTS):
    """[{method, steps, risk}]: risk at n = task.n of k = 0..max_steps steps of gd and preprocess_gd (each tuned
    per k), the optimizers the layers might be imitating.

    Notebooks: II.3"""
    g = generator(seed, "probing_reference")
    tune_p = sample_prompts(2000, task.d, task.s, task.n, task.sigma, g, torch.float64)
    eval_p = sample_prompts(num_prompts, task.d, task.s, task.n, task.sigma, g, torch.float64)
    rows = []
    for method in ("gd", "preprocess_gd"):
        for k in range(max_steps + 1):
            params, _ = bl.tune(method, tune_p, steps=k)
            rows.append({"method": method, "steps": k, "risk": bl.risk(method, eval_p, **params)})
    return rows


@torch.no_grad()
def layer1_reweighting(model, task, seed, num_prompts=EVAL_PROMPTS):
    """How well a linear read-out of what layer 1 writes at the query recovers each candidate, on held-out prompts
    with n = task.n: {"x * c": R^2, "x * c / |c|": R^2, "x": R^2} (1 = exactly, 0 = not at all), where c is the
    prompt's correlations X^T y / n. The construction writes exactly x * c. The prompts take the model's dtype.

    Notebooks: II.5"""
    dtype = next(model.parameters()).dtype
    fit, test = (prompts(task, seed, purpose, num_prompts).to(dtype=dtype) for purpose in ("probe_fit", "probe_test"))

    def written_and_candidates(P):
        _, cache = model.run_with_cache(task.encode(P))
        written = (cache["resid"][1] - cache["resid"][0])[:, -1].cpu().double()  # layer 1's output at the query
        c = bl.correlations(P.X, P.y).double()
        x = P.x_query.double()
        return written, {"x * c": x * c, "x * c / |c|": x * c / c.norm(dim=1, keepdim=True).clamp(min=1e-12), "x": x}

    (A, fit_targets), (At, test_targets) = written_and_candidates(fit), written_and_candidates(test)
    ones = lambda M: torch.cat([M, torch.ones(M.shape[0], 1, dtype=M.dtype)], 1)  # noqa: E731
    A, At = ones(A), ones(At)
    scores = {}
    for name, target in fit_targets.items():
        coef = torch.linalg.lstsq(A, target, driver="gelsd").solution  # SVD: unused columns are fine
        residual = ((At @ coef - test_targets[name]) ** 2).sum()
        total = ((test_targets[name] - test_targets[name].mean(0)) ** 2).sum()
        scores[name] = (1 - residual / total).item()
    return scores


# --- The zoo: the pretrained models behind the notebooks and the heads explorer -----------------------------------

def zoo_name(layers, heads, attention="linear"):
    """The zoo's name of the model of this shape, e.g. heads/L3_H8 or heads/L3_H8_softmax."""
    return f"heads/L{layers}_H{heads}" + ("" if attention == "linear" else f"_{attention}")


CONTRAST_NAME = zoo_name(LAYERS, HEADS, CONTRAST["attention"])


def zoo_recipes():
    """Every (layers, heads) of the explorer's grid, seed 0, and the default shape with the contrast's attention."""
    recipes = {zoo_name(L, H): {"layers": L, "heads": H, "seed": 0} for L in ZOO_LAYERS for H in ZOO_HEADS}
    recipes[CONTRAST_NAME] = {"layers": LAYERS, "heads": HEADS, "seed": 0, "contrast": True}
    return recipes


def build_zoo_model(layers, heads, seed=0, contrast=False, progress=True):
    """Train and measure one zoo model; returns (model, metadata). The metadata keeps everything the notebooks and
    the explorer show (the Analysis, the tuned baselines' curves, the History), so that they only draw."""
    run = train_run(layers, heads, seed, progress=progress, contrast=contrast)
    return run.model, measure_zoo_model(run.model, {"seed": seed, "history": asdict(run.history)})


def measure_zoo_model(model, metadata):
    """The zoo metadata of a trained model: its History and seed (from `metadata`) with everything measured on it
    afresh. `python -m attnlab.zoo remeasure` calls this when the measurements change and the training does not."""
    seed, history, task = metadata["seed"], History(**metadata["history"]), make_task()
    run = HeadsRun(model, history, task, seed, analyse(model, task, seed), _default_baselines(seed))
    metrics = {f"{name}_mean_risk": round(value, 4) for name, value in run.mean_risks().items()}
    return {"seed": seed, "steps": history.step[-1], "metrics": metrics, "analysis": asdict(run.analysis),
            "baselines": run.baselines, "history": asdict(history)}


def pretrained(layers=LAYERS, heads=HEADS, attention="linear"):
    """The zoo's model of this shape (default task, seed 0), hash-checked, as a HeadsRun.

    Notebooks: II.2, II.3, II.4, II.5"""
    if layers not in ZOO_LAYERS or heads not in ZOO_HEADS:
        raise ValueError(f"the zoo has layers in {ZOO_LAYERS} and heads in {ZOO_HEADS}, got layers={layers}, "
                         f"heads={heads}")
    if attention != "linear" and (layers, heads, attention) != (LAYERS, HEADS, CONTRAST["attention"]):
        raise ValueError(f"the zoo's {attention} model has the default shape {LAYERS} x {HEADS} only")
    model, metadata = zoo.load(zoo_name(layers, heads, attention))
    return HeadsRun(model, History(**metadata["history"]), make_task(), metadata["seed"],
                    Analysis(**metadata["analysis"]), metadata["baselines"], live=False)


def live_model(seed=0):
    """The default model trained here for LIVE_TRAINING's steps (about a minute and a half on one CPU core), as a
    HeadsRun without analysis; under nbgrader ($NBGRADER_EXECUTION is set) the zoo's default model instead, so that
    grading stays fast (its `live` says which).

    With $ATTNLAB_LIVE_CACHE set to a folder, the model trained there by an earlier call (same seed and recipe, in
    any process) is taken instead of training again: the test suite sets it, so that II.2, which it runs four ways,
    trains once. Training on one CPU thread from a seed is deterministic, so the model is the one training would give.

    Notebooks: II.2"""
    if autograding():
        return pretrained()
    folder = os.environ.get("ATTNLAB_LIVE_CACHE")
    if not folder:
        return train_run(seed=seed, training=LIVE_TRAINING)
    recipe = "-".join(f"{key}{value}" for key, value in sorted(LIVE_TRAINING.items()))
    path = Path(folder) / f"live-seed{seed}-{recipe}.pt"
    if path.exists():
        model, metadata = load(path)
        return HeadsRun(model, History(**metadata["history"]), make_task(), seed)
    run = train_run(seed=seed, training=LIVE_TRAINING)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as partial:  # renamed whole: never half-read
        save(run.model, partial, history=asdict(run.history))
    os.replace(partial.name, path)
    return run


def default_model(live=False, seed=0, contrast=False):
    """The default model (LAYERS x HEADS) as a HeadsRun: from the zoo, or trained and analysed here when `live`
    (a few minutes on a laptop CPU). Under nbgrader ($NBGRADER_EXECUTION is set) the zoo is always used.

    Notebooks: II.2"""
    if live and not autograding():
        run = train_run(LAYERS, HEADS, seed, contrast=contrast)
        run.analysis, run.baselines = analyse(run.model, run.task, seed), _default_baselines(seed)
        return run
    return pretrained(LAYERS, HEADS, CONTRAST["attention"] if contrast else "linear")
