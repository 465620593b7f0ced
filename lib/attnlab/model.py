"""A small transformer to look inside, in the spirit of nanoGPT's model.py.

One model serves the whole course:
- tokens in (``vocab_size``) for the depth tasks of Part I, or real vectors in (``input_dim``) for the
  in-context regression of Part II;
- any depth, any number of heads that divides the width, attention-only or with an MLP, with or
  without layer norm, causal or full attention, softmax or linear attention;
- ``run_with_cache`` returns every layer's attention pattern and residual stream, and ``head_mask``
  removes chosen heads. The vocabulary (pattern, z, resid) is TransformerLens's.

Shapes: B batch, T sequence length, C width, H heads, D = C // H the width of one head.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


ATTENTIONS = ("softmax", "linear")


@dataclass
class Config:
    """Every choice of a model, in one place: what it reads and predicts, its size, and its attention.

    Notebooks: 0.1"""
    max_len: int  # longest sequence the learned positional table covers
    output_dim: int  # number of classes, or 1 for a real-valued prediction
    vocab_size: int | None = None  # token input: ids in [0, vocab_size)
    input_dim: int | None = None  # real-vector input: a linear read-in of this many features
    width: int = 64
    depth: int = 2
    heads: int = 1
    mlp: bool = False  # False gives the attention-only transformer of the depth paper
    layer_norm: bool = True
    causal: bool = True
    # For the joint layout of attnlab.tasks.regression only: tokens whose last input feature is 0 are queries,
    # and no token attends to a query, except a query to itself under softmax attention (a softmax needs at least
    # one key). So one prompt can carry several independent queries (more to learn from per step). With
    # causal=False every token sees every example ("full context"), as in the theory of linear attention.
    private_queries: bool = False
    # "softmax": weights softmax(q.k / sqrt(D)) over the visible keys. "linear": weights q.k / sqrt(D) with no
    # softmax, divided by the number of visible keys, so a head's output is a plain average of score * value:
    # the attention of the in-context-learning theory, where one head can take one gradient step.
    attention: str = "softmax"

    def __post_init__(self):
        if (self.vocab_size is None) == (self.input_dim is None):
            raise ValueError("give exactly one of vocab_size (token input) or input_dim (vector input); "
                             f"got vocab_size={self.vocab_size}, input_dim={self.input_dim}")
        for name in ("max_len", "output_dim", "width", "depth", "heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("vocab_size", "input_dim"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 when given, got {value}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.width % self.heads:
            raise ValueError(f"heads must divide width: width={self.width} is not a multiple of heads={self.heads}")


class Attention(nn.Module):
    """Multi-head self-attention: split into heads, attend, merge.

    Notebooks: 0.1"""

    def __init__(self, cfg: Config):
        super().__init__()
        self.heads, self.causal, self.linear = cfg.heads, cfg.causal, cfg.attention == "linear"
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width, bias=False)  # queries, keys, values of all heads at once
        self.out = nn.Linear(cfg.width, cfg.width, bias=False)  # no bias, so a zeroed head adds exactly nothing

    def forward(self, x, head_mask=None, cache=None, allowed=None):
        """allowed: None, or a (B, T, T) bool tensor, True where query i may look at key j (replaces causal)."""
        B, T, C = x.shape
        H, D = self.heads, C // self.heads
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        if cache is None and not self.linear:  # fused softmax: nothing to look at
            if allowed is None:
                z = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
            else:
                z = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed[:, None])
        else:
            pattern = self._pattern(q @ k.transpose(-2, -1) / math.sqrt(D), allowed)  # (B, H, T, T)
            z = pattern @ v  # (B, H, T, D): each head's weighted sum of values
        if head_mask is not None:
            z = z * head_mask.view(1, H, 1, 1)  # 0 removes the head's output
        if cache is not None:
            cache["pattern"].append(pattern)
            cache["z"].append(z)
        return self.out(z.transpose(1, 2).reshape(B, T, C))  # merge heads: (B, T, C)

    def _pattern(self, scores, allowed):
        """The weights of query i on key j, from scores (B, H, T, T): softmax, or linear (see Config)."""
        T = scores.shape[-1]
        if allowed is None:
            allowed = torch.ones(T, T, dtype=torch.bool, device=scores.device)
            if self.causal:
                allowed = allowed.tril()
        allowed = allowed if allowed.dim() == 2 else allowed[:, None]  # (T, T) or (B, 1, T, T)
        if self.linear:  # an average over the visible keys; over none (a query with no examples) it is 0
            visible = allowed.sum(-1, keepdim=True).clamp(min=1)
            return scores * allowed / visible
        return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)


class MLP(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.up = nn.Linear(cfg.width, 4 * cfg.width)
        self.down = nn.Linear(4 * cfg.width, cfg.width)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    """One layer: x + attention(norm(x)), then x + mlp(norm(x)) when the MLP is on.

    Notebooks: 0.1"""

    def __init__(self, cfg: Config):
        super().__init__()
        norm = nn.LayerNorm if cfg.layer_norm else (lambda width: nn.Identity())
        self.norm_attn, self.attn = norm(cfg.width), Attention(cfg)
        self.norm_mlp, self.mlp = (norm(cfg.width), MLP(cfg)) if cfg.mlp else (None, None)

    def forward(self, x, head_mask=None, cache=None, allowed=None):
        x = x + self.attn(self.norm_attn(x), head_mask, cache, allowed)
        if self.mlp is not None:
            x = x + self.mlp(self.norm_mlp(x))
        return x


class Transformer(nn.Module):
    """The course's transformer: token or vector embedding plus a learned positional table, `depth` blocks
    of multi-head attention (and an MLP when cfg.mlp), and a linear read-out at every position.

    Notebooks: 0.1"""
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        if cfg.vocab_size is not None:
            self.embed = nn.Embedding(cfg.vocab_size, cfg.width)
        else:
            self.embed = nn.Linear(cfg.input_dim, cfg.width)
        self.pos = nn.Embedding(cfg.max_len, cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm_final = nn.LayerNorm(cfg.width) if cfg.layer_norm else nn.Identity()
        self.unembed = nn.Linear(cfg.width, cfg.output_dim)

    def forward(self, x, head_mask=None):
        """x: token ids (B, T) or vectors (B, T, input_dim). Returns an output at every position: (B, T, output_dim).

        x and head_mask may sit on any device: they are moved to the model's, where the output is."""
        return self._run(x, head_mask, cache=None)

    def run_with_cache(self, x, head_mask=None):
        """Like forward, and also returns what happened inside (on the model's device), as a dict of per-layer lists:
        pattern[l] (B, H, T, T) attention of query to key; z[l] (B, H, T, D) each head's output before
        merging; resid[l] (B, T, C) the residual stream entering layer l (resid[depth] leaves the last)."""
        cache = {"pattern": [], "z": [], "resid": []}
        return self._run(x, head_mask, cache), cache

    def _run(self, x, head_mask, cache):
        T = self._check_input(x)
        if head_mask is not None:
            head_mask = self._check_head_mask(head_mask)
        allowed = self._allowed(x)  # read where x is: like the checks, it needs numbers back from x
        # The inputs go where the model is, so that a model on a GPU takes the CPU tensors a task samples.
        device = self.pos.weight.device
        x = x.to(device)
        allowed = None if allowed is None else allowed.to(device)
        positions = torch.arange(T, device=device)
        resid = self.embed(x) + self.pos(positions)
        for layer, block in enumerate(self.blocks):
            if cache is not None:
                cache["resid"].append(resid)
            resid = block(resid, None if head_mask is None else head_mask[layer], cache, allowed)
        if cache is not None:
            cache["resid"].append(resid)
        return self.unembed(self.norm_final(resid))

    def _allowed(self, x):
        """The attention mask of private queries (see Config), or None when the plain mask is the same."""
        cfg = self.cfg
        if not (cfg.private_queries and cfg.input_dim is not None):
            return None
        is_query = x[..., -1] == 0  # (B, T)
        softmax = cfg.attention == "softmax"
        if softmax and cfg.causal and int(is_query.sum(1).max()) <= 1:  # one query, at the end: plain causal
            return None
        T = x.shape[1]
        allowed = ~is_query[:, None, :]  # (B, 1, T): every example is a key
        if softmax:
            allowed = allowed | torch.eye(T, dtype=torch.bool, device=x.device)
        allowed = allowed.expand(-1, T, -1)
        if cfg.causal:
            allowed = allowed & torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        return allowed

    def _check_input(self, x):
        cfg = self.cfg
        if cfg.vocab_size is not None:
            if x.dim() != 2 or x.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"this model reads token ids: expected an integer tensor (batch, seq), "
                                 f"got {x.dtype} of shape {tuple(x.shape)}")
            if x.numel() and (x.min() < 0 or x.max() >= cfg.vocab_size):
                raise ValueError(f"token ids must lie in [0, {cfg.vocab_size}), got ids from "
                                 f"{x.min().item()} to {x.max().item()}")
        elif x.dim() != 3 or x.shape[-1] != cfg.input_dim:
            raise ValueError(f"this model reads vectors: expected shape (batch, seq, {cfg.input_dim}), "
                             f"got {tuple(x.shape)}")
        T = x.shape[1]
        if not 1 <= T <= cfg.max_len:
            raise ValueError(f"sequence length must be between 1 and max_len={cfg.max_len}, got {T}")
        return T

    def _check_head_mask(self, head_mask):
        head_mask = torch.as_tensor(head_mask, dtype=self.pos.weight.dtype, device=self.pos.weight.device)
        expected = (self.cfg.depth, self.cfg.heads)
        if tuple(head_mask.shape) != expected:
            raise ValueError(f"head_mask must have shape (layers, heads) = {expected}, got {tuple(head_mask.shape)}")
        return head_mask


def save(model: Transformer, path, **metadata):
    """Save weights with the config that rebuilds them, plus any metadata (seed, steps, accuracy...)."""
    torch.save({"config": asdict(model.cfg), "state_dict": model.state_dict(), "metadata": metadata}, path)


def load(path, device="cpu"):
    """Load a checkpoint written by `save` (a path or a binary file object); returns (model, metadata). Safe:
    weights_only=True."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    model = Transformer(Config(**checkpoint["config"])).to(device)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint["metadata"]
