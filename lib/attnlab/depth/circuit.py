"""How the course's trained depth-3 models solve in-context template matching, read from their attention."""
import torch

from ..tasks.depth import InContextTemplate


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

    Returns {step: [share in layer 1, share in layer 2, ...]} (a list, so index 0 is layer 1), so that each step's
    layer can be read off.

    Notebooks: I.4
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
        pattern = pattern.mean(1).cpu()  # (B, T, T), averaged over heads, beside the prompts
        at_ends = pattern[:, ends]  # (B, k + 1, T)
        shares["labels"].append((at_ends * is_label[:, None]).sum(-1).mean().item())
        shares["parse"].append(at_ends.gather(2, equal_at[:, :, None]).mean().item())
        on_examples = pattern[rows, -1][:, ends[:-1]]  # (B, k): the query's attention on each example's end
        shares["match"].append((on_examples * same_as_query).sum(1).mean().item())
    return shares

