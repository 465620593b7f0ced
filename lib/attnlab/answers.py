"""The course's own answers to exercises that later exercises build on.

A later exercise's check runs with these in place of the student's earlier answers (`check.replaced`), so a
mistake in exercise 1 costs exercise 1's points only. Each is forbidden in its own exercise (`check.own_work`).
"""
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
    """Notebook I.4, exercise 1: (..., 4) filled templates -> 0 for AABB, 1 for ABAB, 2 for ABBA.

    Notebooks: I.4"""
    return (sequences[..., 1:] == sequences[..., :1]).long().argmax(dim=-1)


def threshold_depth(accuracies, bar):
    """Notebook I.5, exercise 1: the smallest depth whose accuracy reaches `bar`, or None.

    Notebooks: I.5"""
    reached = [depth for depth in sorted(accuracies) if accuracies[depth] >= bar]
    return reached[0] if reached else None


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
