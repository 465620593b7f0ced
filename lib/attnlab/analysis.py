"""Which heads and layers matter in a transformer trained on in-context regression.

- `risk_by_n`: the model's excess risk after 0, 1, ..., n examples (optionally with heads masked).
- `errors_by_n`: the same, prompt by prompt, for paired comparisons on shared prompts (attnlab.paired).
- `head_importance`: the rise in risk when one head is removed, for every layer and head, by zero-ablation (its
  output set to 0, as `head_mask` does) or by mean-ablation (its output replaced by its mean over the prompts,
  `head_means` and `ablated`); `importance_shares` turns it into each head's share of its layer's total.
  `head_effect`: how much removing one head moves the predictions, whether or not the head helps.
- `pruning_mask` / `pruning_risks`: keep chosen heads only. Variants: ``full``; ``pruned`` (every head of
  layer 1, the top head of each later layer); ``first_layer_one_head`` (the top head of every layer, layer 1
  included: the pruned model minus all but one first-layer head). Any other (layers, heads) 0/1 mask works
  too. The ``single_head_model`` of the course is a separately trained model with one head per layer: train it
  and compare its `risk_by_n`, no mask needed.
- `probe`: a linear read-out of the query's label from the residual stream at the query, entering each layer
  and leaving the last, fitted by least squares on some prompts and scored on others: how far each layer
  has got with the regression.

Layers and heads are numbered from 0 in tensors and lists, as Python counts, and from 1 in the course's prose and
figures: importance[0] is layer 1.
"""
from contextlib import contextmanager

import torch

from .tasks.regression import Prompts

PRUNING_VARIANTS = ("full", "pruned", "first_layer_one_head")


def _check(model, task, prompts):
    if not isinstance(prompts, Prompts):
        raise ValueError(f"prompts must be attnlab.tasks.regression.Prompts, got {type(prompts).__name__}")
    cfg = getattr(model, "cfg", None)
    if cfg is None or getattr(cfg, "input_dim", None) != task.input_dim:
        raise ValueError(f"the model must read vectors of task.input_dim={task.input_dim}; got a model with "
                         f"input_dim={getattr(cfg, 'input_dim', None)}")
    if prompts.d != task.d:
        raise ValueError(f"prompts have d={prompts.d} but the task has d={task.d}")
    needed = 2 * prompts.n + 1 if task.layout == "separate" else prompts.n + 1
    if needed > cfg.max_len:
        raise ValueError(f"prompts with n={prompts.n} need {needed} positions; the model has max_len={cfg.max_len}")


def _passes(task, prompts):
    """The inputs predict_by_n runs: one for the separate layout, one per k = 0..n for the joint one."""
    if task.layout == "separate":
        return [task.encode(prompts)]
    return [task.encode(prompts.first(k)) for k in range(prompts.n + 1)]


@torch.no_grad()
def predict_by_n(model, task, prompts, head_mask=None):
    """(predictions, targets), both (B, n + 1) on the CPU: column k is the prediction after k examples and its
    noise-free target.

    Separate layout: one pass; the prediction at the k-th x token is for x_{k+1} (the query when k = n).
    Joint layout: one pass per k, on the first k examples and the query.
    """
    _check(model, task, prompts)
    was_training = model.training
    model.eval()
    P = prompts
    # Back on the CPU, where the prompts' targets are: the model may sit on any device (attnlab.train's doc).
    outputs = [model(x, head_mask=head_mask)[..., 0].cpu() for x in _passes(task, P)]
    if task.layout == "separate":
        preds = outputs[0][:, 0::2]
        targets = torch.cat([P.clean, P.target[:, None]], dim=1)
    else:
        preds = torch.stack([out[:, -1] for out in outputs], 1)
        targets = P.target[:, None].expand(-1, P.n + 1)
    model.train(was_training)
    return preds, targets


def errors_by_n(model, task, prompts, head_mask=None):
    """(B, n + 1) squared error of each prompt after k = 0, 1, ..., n examples: the per-prompt errors that a paired
    comparison with another predictor on the same prompts needs (attnlab.paired).

    Notebooks: II.2"""
    preds, targets = predict_by_n(model, task, prompts, head_mask)
    return (preds - targets) ** 2


def risk_by_n(model, task, prompts, head_mask=None):
    """(n + 1,) excess risk after k = 0, 1, ..., n examples."""
    return errors_by_n(model, task, prompts, head_mask).mean(0)


def mean_risk(model, task, prompts, head_mask=None, n_values=None):
    """Excess risk averaged over the given numbers of examples (default 1..n).

    Notebooks: II.3"""
    curve = risk_by_n(model, task, prompts, head_mask)
    n_values = list(range(1, prompts.n + 1)) if n_values is None else list(n_values)
    if not n_values or min(n_values) < 0 or max(n_values) > prompts.n:
        raise ValueError(f"n_values must be a non-empty subset of 0..{prompts.n}, got {n_values}")
    return curve[n_values].mean().item()


def _per_head(model, measure):
    """(layers, heads): measure(head_mask) with that one head masked, all others kept."""
    L, H = model.cfg.depth, model.cfg.heads
    values = torch.zeros(L, H)
    for layer in range(L):
        for head in range(H):
            mask = torch.ones(L, H)
            mask[layer, head] = 0
            values[layer, head] = measure(mask)
    return values


@torch.no_grad()
def head_means(model, task, prompts):
    """{sequence length T: (layers, T, width)}: each head's output averaged over the prompts, for every pass that
    predict_by_n runs, in the layout the attention's output projection reads (head h in columns h*D..(h+1)*D).

    The mean is taken per number of examples and per position, not over all of them: a head writes very different
    things at the query and at an example, and with 0 or 4 examples to average over. One mean over everything
    would put in an output that no real prompt produces, the fault of zero-ablation. Per (n, position), replacing
    a head by its mean removes only what it says about this prompt. The means are taken on the prompts that are
    then scored: with thousands of them, one prompt's share of its own replacement is negligible."""
    _check(model, task, prompts)
    was_training = model.training
    model.eval()
    means = {}
    for x in _passes(task, prompts):
        _, cache = model.run_with_cache(x)
        # z[l]: (B, heads, T, D) -> mean over prompts -> (T, heads * D), as Attention merges the heads
        means[x.shape[1]] = torch.stack([z.mean(0).transpose(0, 1).flatten(1) for z in cache["z"]])
    model.train(was_training)
    return means


@contextmanager
def ablated(model, mask, means=None):
    """Within the block, the heads where mask (layers, heads) is 0 are removed from every forward pass, training
    included: their outputs replaced by 0 (zero-ablation, what head_mask does) or, given `means` (head_means), by
    their mean output for that sequence length and position (mean-ablation).

    A forward pre-hook on each layer's output projection (Attention.out) swaps the removed heads' columns of its
    input, so any call of the model sees the change: train(), predict_by_n, run_with_cache."""
    L, H = model.cfg.depth, model.cfg.heads
    mask = torch.as_tensor(mask, dtype=torch.float32)
    if tuple(mask.shape) != (L, H) or not ((mask == 0) | (mask == 1)).all():
        raise ValueError(f"mask must be a (layers, heads) = {(L, H)} tensor of 0 and 1, got shape {tuple(mask.shape)}")
    D = model.cfg.width // H

    def hook_for(layer):
        keep = mask[layer].repeat_interleave(D)  # (width,): 1 on the columns of the kept heads

        def hook(_, inputs):
            (z,) = inputs  # (B, T, width)
            k = keep.to(z.device, z.dtype)
            replacement = 0 if means is None else means[z.shape[1]][layer].to(z.device, z.dtype)
            return (z * k + replacement * (1 - k),)
        return hook

    handles = [block.attn.out.register_forward_pre_hook(hook_for(layer)) for layer, block in enumerate(model.blocks)]
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


ABLATIONS = ("zero", "mean")


def head_importance(model, task, prompts, n_values=None, kind="zero"):
    """(layers, heads): the rise in mean risk when that one head is removed, all others kept. kind "zero": its
    output set to 0 (masked); "mean": replaced by its mean output over the prompts (see head_means).

    Notebooks: II.3, II.5"""
    if kind not in ABLATIONS:
        raise ValueError(f"kind must be one of {ABLATIONS}, got {kind!r}")
    base = mean_risk(model, task, prompts, None, n_values)
    if kind == "zero":
        return _per_head(model, lambda mask: mean_risk(model, task, prompts, mask, n_values) - base)
    means = head_means(model, task, prompts)

    def rise(mask):
        with ablated(model, mask, means):
            return mean_risk(model, task, prompts, None, n_values) - base
    return _per_head(model, rise)


def head_effect(model, task, prompts, n_values=None):
    """(layers, heads): how much the predictions move when that one head is masked, all others kept: the mean
    squared change, averaged over n_values (default 1..n). Unlike `head_importance` it does not ask whether the
    head helps, only whether the model uses it: a head that is never read has effect 0.

    Notebooks: II.3, II.5"""
    n_values = list(range(1, prompts.n + 1)) if n_values is None else list(n_values)
    base, _ = predict_by_n(model, task, prompts)
    return _per_head(model, lambda mask: ((predict_by_n(model, task, prompts, mask)[0] - base)[:, n_values] ** 2).mean())


def importance_shares(importance):
    """(layers, heads): each head's share of its layer's total importance (negatives count as 0); rows sum to 1
    (a layer where no head matters gets equal shares).

    Notebooks: II.3, II.5"""
    importance = torch.as_tensor(importance, dtype=torch.float32)
    if importance.dim() != 2:
        raise ValueError(f"importance must be (layers, heads), got shape {tuple(importance.shape)}")
    positive = importance.clamp(min=0)
    total = positive.sum(1, keepdim=True)
    equal = torch.full_like(positive, 1.0 / positive.shape[1])
    return torch.where(total > 0, positive / torch.where(total > 0, total, torch.ones_like(total)), equal)


def pruning_mask(importance, variant):
    """A (layers, heads) 0/1 mask for a pruning variant, chosen from the importance (see the module's doc).

    Notebooks: II.3"""
    importance = torch.as_tensor(importance, dtype=torch.float32)
    if importance.dim() != 2:
        raise ValueError(f"importance must be (layers, heads), got shape {tuple(importance.shape)}")
    if variant == "single_head_model":
        raise ValueError("single_head_model is a separately trained model with one head per layer, not a mask: "
                         "train it and compare its risk")
    if variant not in PRUNING_VARIANTS:
        raise ValueError(f"variant must be one of {PRUNING_VARIANTS}, got {variant!r}")
    mask = torch.ones_like(importance)
    if variant == "full":
        return mask
    top = importance.argmax(dim=1)
    keep_one = torch.zeros_like(importance).scatter_(1, top[:, None], 1.0)
    mask[1:] = keep_one[1:]
    if variant == "first_layer_one_head":
        mask[0] = keep_one[0]
    return mask


def pruning_risks(model, task, prompts, importance, variants=PRUNING_VARIANTS, n_values=None, kind="zero"):
    """{variant: mean risk} with each variant's mask (risk averaged over n_values, default 1..n); the pruned heads
    are removed by zero- or mean-ablation (kind, see head_importance).

    Notebooks: II.3, II.5"""
    if kind not in ABLATIONS:
        raise ValueError(f"kind must be one of {ABLATIONS}, got {kind!r}")
    if kind == "zero":
        return {v: mean_risk(model, task, prompts, pruning_mask(importance, v), n_values) for v in variants}
    means = head_means(model, task, prompts)
    risks = {}
    for v in variants:
        with ablated(model, pruning_mask(importance, v), means):
            risks[v] = mean_risk(model, task, prompts, None, n_values)
    return risks


@torch.no_grad()
def query_residuals(model, task, prompts, head_mask=None):
    """(layers + 1, B, width): the residual stream at the query, entering each layer and leaving the last, on the
    CPU."""
    _check(model, task, prompts)
    was_training = model.training
    model.eval()
    _, cache = model.run_with_cache(task.encode(prompts), head_mask=head_mask)
    model.train(was_training)
    return torch.stack([r[:, -1] for r in cache["resid"]]).cpu()  # where the probe's targets are


def probe(model, task, fit_prompts, eval_prompts, ridge=1e-4, head_mask=None):
    """(layers + 1,) excess risk of a linear read-out of <w, x_q> from the residual stream at the query.

    Entry l reads the stream entering layer l (entry 0: the embedding; the last: leaving the final layer).
    Each read-out (weights and a bias) is fitted by least squares, with a tiny ridge term for stability, on
    fit_prompts, and scored on eval_prompts (use different prompts: with width-many weights, a fit scored on
    its own prompts would flatter itself). Use at least a few times `width` fitting prompts.

    Notebooks: II.3, II.5
    """
    if fit_prompts.n != eval_prompts.n:
        raise ValueError(f"fit and eval prompts must have the same n, got {fit_prompts.n} and {eval_prompts.n}")
    if ridge < 0:
        raise ValueError(f"ridge must be non-negative, got {ridge}")
    fit = query_residuals(model, task, fit_prompts, head_mask).double()
    test = query_residuals(model, task, eval_prompts, head_mask).double()
    if fit.shape[1] <= fit.shape[2]:
        raise ValueError(f"need more fitting prompts than the width ({fit.shape[2]}) to fit a read-out, got {fit.shape[1]}")
    risks = []
    for F_, T_ in zip(fit, test):
        A = torch.cat([F_, torch.ones(F_.shape[0], 1, dtype=F_.dtype)], 1)
        At = torch.cat([T_, torch.ones(T_.shape[0], 1, dtype=T_.dtype)], 1)
        scale = A.pow(2).mean(0).clamp(min=1e-12)  # ridge relative to each feature's size
        coef = torch.linalg.solve(A.T @ A + ridge * A.shape[0] * torch.diag(scale), A.T @ fit_prompts.target.double())
        risks.append(((At @ coef - eval_prompts.target.double()) ** 2).mean().item())
    return torch.tensor(risks)
