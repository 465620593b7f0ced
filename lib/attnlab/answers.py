"""The course's own answers to exercises that later exercises and demos build on.

A later exercise's check runs with these in place of the student's earlier answers (`check.replaced`), so a
mistake in exercise 1 costs exercise 1's points only. A demo cell that uses an earlier answer calls it through
`yours_or_course`, so a student stuck on an exercise still runs the rest of the notebook. Each is forbidden in its
own exercise (`check.own_work`): the ones that are a library function's job are that function, or call it.
"""
import dataclasses
import functools
import math

import torch


def attention(q, k, v, mask=None):
    """Part 0, exercise 1: scaled dot-product attention; returns (output, pattern).

    Notebooks: 0.1"""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    pattern = scores.softmax(dim=-1)
    return pattern @ v, pattern


def causal_mask(T):
    """Part 0, exercise 2: True where query i may see key j, that is j <= i.

    Notebooks: 0.1"""
    return torch.ones(T, T, dtype=torch.bool).tril()


def split_heads(x, heads):
    """Part 0, exercise 3: (B, T, C) -> (B, H, T, C // H).

    Notebooks: 0.1"""
    B, T, C = x.shape
    return x.view(B, T, heads, C // heads).transpose(1, 2)


def merge_heads(x):
    """Part 0, exercise 3: (B, H, T, D) -> (B, T, H * D).

    Notebooks: 0.1"""
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


def template_index(sequences):
    """(..., 4) filled templates -> 0 for AABB, 1 for ABAB, 2 for ABBA: where the first token repeats, less one.

    Notebooks: I.4"""
    return (sequences[..., 1:] == sequences[..., :1]).long().argmax(dim=-1)


def follows_renaming(model, task, prompts):
    """Notebook I.4, exercise 1: the fraction of in-context template prompts whose answer moves from a to (a + 1) % 3
    when every label token in the prompt is renamed the same way.

    Notebooks: I.4"""
    offset = task.label_offset
    renamed = torch.where(prompts >= offset, (prompts - offset + 1) % 3 + offset, prompts)
    with torch.no_grad():
        original, moved = model(prompts)[:, -1].argmax(-1), model(renamed)[:, -1].argmax(-1)
    return (moved == (original + 1) % 3).float().mean().item()


def first_example_rule(task, prompts):
    """Notebook I.4, exercise 2: depth 2's shortcut; the first example's label when it fills the query's template,
    the query's template (the fixed map) otherwise.

    Notebooks: I.4"""
    first, query = template_index(prompts[:, :4]), template_index(prompts[:, -4:])
    return torch.where(first == query, prompts[:, 4] - task.label_offset, query)


def flip_rate(model, sequences, positions, vocab_size):
    """Notebook I.1, exercise 1: the fraction of sequences whose predicted label changes when the token at
    positions[b] of sequence b becomes the next token id.

    Notebooks: I.1"""
    changed = sequences.clone()
    rows = torch.arange(len(sequences))
    changed[rows, positions] = (changed[rows, positions] + 1) % vocab_size
    with torch.no_grad():
        before, after = (model(x)[:, -1].argmax(-1) for x in (sequences, changed))
    return (before != after).float().mean().item()


def most_decisive_position(model, sequences, vocab_size):
    """Notebook I.1, exercise 2: (position, rate), the position whose change in every sequence changes the most
    answers (flip_rate), and that fraction.

    Notebooks: I.1"""
    rates = [flip_rate(model, sequences, torch.full((len(sequences),), p), vocab_size) for p in range(sequences.shape[1])]
    best = max(range(len(rates)), key=rates.__getitem__)
    return best, rates[best]


def parse_weights(pattern, prompts):
    """Notebook I.3, exercise 1: (same, other), the weight of x2, x3, x4 on earlier positions holding the same token
    and on those holding the other one, averaged over the prompts and the three positions.

    Notebooks: I.3"""
    T = prompts.shape[1]
    earlier = torch.ones(T, T, dtype=torch.bool).tril(-1)[1:4]  # (3, T): the keys before x2, x3, x4
    equal = prompts[:, 1:4, None] == prompts[:, None, :]  # (batch, 3, T): the key holds the query's token
    weights = pattern[:, 1:4]
    return (weights * (equal & earlier)).sum(-1).mean().item(), (weights * (~equal & earlier)).sum(-1).mean().item()


def accuracy_without(model, prompts, labels, layer):
    """Notebook I.3, exercise 2: the accuracy at the last position with every head of `layer` (counted from 1)
    switched off.

    Notebooks: I.3, I.5"""
    mask = torch.ones(model.cfg.depth, model.cfg.heads)
    mask[layer - 1] = 0.0
    with torch.no_grad():
        return (model(prompts, head_mask=mask)[:, -1].argmax(-1) == labels).float().mean().item()


def knockout_accuracies(model, task, prompts, labels):
    """Notebook I.5, exercise 1: the accuracy with each layer's heads switched off in turn, one float per layer.

    Notebooks: I.5"""
    truth = task.query_labels(labels)  # the label asked at the last position, which accuracy_without compares with
    return [accuracy_without(model, prompts, truth, layer) for layer in range(1, model.cfg.depth + 1)]


def essential_layers(model, task, prompts, labels):
    """Notebook I.5, exercise 2: the layers (from 1) whose knockout loses at least half the accuracy above chance.

    Notebooks: I.5"""
    with torch.no_grad():
        full = task.metric(model(prompts), labels)
    bar = full - (full - task.chance) / 2  # at or below it without the layer: the layer is essential
    return [layer for layer, without in enumerate(knockout_accuracies(model, task, prompts, labels), start=1)
            if without <= bar]


def weight_by_role(pattern):
    """Notebook I.2, exercise 1: (on_questions, on_answers), the last position's total weight on the even and on the
    odd positions before it, averaged over the batch.

    Notebooks: I.2"""
    before_query = pattern[:, -1, :-1]
    return tuple(before_query[:, role::2].sum(-1).mean().item() for role in (0, 1))


def copy_previous_token(model, layout, sharp):
    """Notebook I.2, exercise 2: layer 1 (index 0) of a blank model (circuits.blank_model) copies each position's
    previous token into the part `previous` of the residual stream; `sharp` scales the scores.

    Notebooks: I.2"""
    from .circuits import head_weights  # here, so that the answers above need nothing but torch

    T, V = layout["position"].stop - layout["position"].start, layout["token"].stop - layout["token"].start
    token, position, previous = layout["token"], layout["position"], layout["previous"]
    with torch.no_grad():
        head = head_weights(model, layer=0)
        head.W_Q[position, position] = sharp * torch.eye(T)  # position i asks for ...
        head.W_K[position, position] = torch.diag(torch.ones(T - 1), -1)  # ... the key of position i - 1
        head.W_V[token, token] = torch.eye(V)
        head.W_O[previous, token] = torch.eye(V)
    return model


def multi_head_attention(x, w_qkv, w_out, heads, causal=True):
    """Part 0, exercise 4: x (B, T, C) -> (output (B, T, C), pattern (B, H, T, T)).

    Notebooks: 0.1"""
    C = x.shape[-1]
    q, k, v = (split_heads(t, heads) for t in (x @ w_qkv.T).split(C, dim=-1))
    z, pattern = attention(q, k, v, causal_mask(x.shape[1]) if causal else None)
    return merge_heads(z) @ w_out.T, pattern


def ridge(X, y, x_query, lam):
    """Notebook II.1, exercise 1: ridge's predictions, (B,).

    Notebook II.1 calls it through yours_or_course."""
    from . import baselines

    return baselines.ridge(X, y, x_query, lam=lam)


def gd(X, y, x_query, steps, step_size):
    """Notebook II.1, exercise 2: `steps` steps of gradient descent with one fixed step size, from w = 0, (B,).

    Notebook II.1 calls it through yours_or_course."""
    from . import baselines

    return baselines.correlation_gd(X, y, x_query, steps, step_size, beta=0.0)


def gd_step_head(d, eta):
    """Notebook II.1, exercise 3: (W_Q, W_K, W_V), each (d + 2, d + 2), of a linear-attention head whose output's y
    coordinate at the query is one gradient step from w = 0, (eta / n) sum_i y_i <x_i, x_q>.

    Notebooks: II.1"""
    W_Q, W_K, W_V = (torch.zeros(d + 2, d + 2) for _ in range(3))
    W_Q[:d, :d] = eta * torch.eye(d)
    W_K[:d, :d] = torch.eye(d)
    W_V[d, d] = 1.0
    return W_Q, W_K, W_V


def additivity_gap(predict, prompts):
    """Notebook II.2, exercise 1: how far `predict` is from additive in the labels, on the same inputs: mean |f(y + y')
    - f(y) - f(y')| / mean |f(y + y')|, with y' each prompt's predecessor's labels.

    Notebooks: II.2"""
    apart, whole = additivity_terms(predict, prompts)
    return (apart.mean() / whole.mean()).item()


def additivity_terms(predict, prompts):
    """additivity_gap prompt by prompt: (|f(y + y') - f(y) - f(y')|, |f(y + y')|), each (prompts,); the gap is the
    ratio of their means, and paired.ratio_difference compares two predictors' gaps on the same prompts.

    Notebooks: II.2"""
    shifted = prompts.y.roll(1, dims=0)
    parts = predict(prompts) + predict(dataclasses.replace(prompts, y=shifted))
    whole = predict(dataclasses.replace(prompts, y=prompts.y + shifted))
    return (whole - parts).abs(), whole.abs()


def shrinkage_ratio(predict, prompts, c):
    """Notebook II.2, exercise 3: the least-squares slope of f(c y) against c f(y) over the batch, 1 for a predictor
    linear in the labels.

    Notebooks: II.2"""
    kept, linear = shrinkage_terms(predict, prompts, c)
    return (kept.sum() / linear.sum()).item()


def shrinkage_terms(predict, prompts, c):
    """shrinkage_ratio prompt by prompt: (f(c y) f(y), c f(y)^2), each (prompts,); the slope is the ratio of their
    means (see additivity_terms).

    Notebooks: II.2"""
    original = predict(prompts)
    return predict(dataclasses.replace(prompts, y=prompts.y * c)) * original, c * original ** 2


def head_importance(model, task, prompts, n_values):
    """Notebook II.3, exercise 1: (layers, heads) the rise in mean risk when that head alone is masked.

    Notebook II.3 calls it through yours_or_course."""
    from . import analysis

    return analysis.head_importance(model, task, prompts, n_values)


def pruned_mask(importance):
    """Notebook II.3, exercise 2: every head of layer 1, the top head of each later layer.

    Notebook II.3 calls it through yours_or_course."""
    from . import analysis

    return analysis.pruning_mask(importance, "pruned")


def preprocess_gd(X, y, x_query, steps, lr, power):
    """Notebook II.4, exercise 2: reweight by correlation, then `steps` gradient steps, (B,).

    Notebook II.4 calls it through yours_or_course."""
    from . import baselines

    return baselines.preprocess_gd(X, y, x_query, steps, lr, power)


def yours_or_course(yours):
    """A student's answer to an exercise, for a demo cell: where it raises (not written yet, or a bug), the course's
    answer of the same name runs instead, and one printed line says so. The exercise's own checks never use this:
    they call the student's function itself.

    Notebooks: 0.1, I.1, I.2, I.3, I.4, I.5, II.1, II.2, II.3, II.4"""
    course = globals().get(getattr(yours, "__name__", None))
    if not callable(course) or course is yours_or_course:
        raise ValueError(f"the course has no answer named {getattr(yours, '__name__', yours)!r}")
    told = False

    @functools.wraps(yours)
    def answer(*args, **kwargs):
        nonlocal told
        try:
            return yours(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any failure of an unfinished answer
            if not told:
                print(f"Your {yours.__name__} raised {type(error).__name__}; "
                      "this cell uses the course's answer instead.")
                told = True
            return course(*args, **kwargs)
    return answer
