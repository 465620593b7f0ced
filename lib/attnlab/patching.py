"""Activation patching (in TransformerLens's words): run a model on clean inputs, with one component's output
replaced by what that component computed on corrupted inputs. If the answer then follows the corrupted run,
the information that decides it flows through that component, at those positions.

Components are named as in `model.named_modules()`: "blocks.0.attn" is what layer 1's attention writes into the
residual stream (layers are 0-based in names and tensors, 1-based in the course's prose), "blocks.0" is the
residual stream leaving layer 1, "embed" the token embedding.

Notebook I.4 uses it to find where a depth-3 model reads its answer on in-context template matching.
"""
import torch

def component_names(model):
    """Every name `patch` accepts for this model, in order: embed, then blocks.l and blocks.l.attn per layer."""
    return ["embed", *(f"blocks.{layer}{part}" for layer in range(len(model.blocks)) for part in ("", ".attn"))]


@torch.no_grad()
def patch(model, clean, corrupted, name, positions=None):
    """The model's outputs (B, T, out) on `clean`, with the output of component `name` replaced, at `positions`
    (a list of sequence positions; default all), by that component's output on `corrupted` (same shape as clean).

    Notebooks: I.4
    """
    names = component_names(model)
    if name not in names:
        raise ValueError(f"cannot patch {name!r}: this model's components are {', '.join(names)}")
    if clean.shape != corrupted.shape:
        raise ValueError(f"clean and corrupted inputs must have the same shape, got {tuple(clean.shape)} and "
                         f"{tuple(corrupted.shape)}")
    T = clean.shape[1]
    positions = list(range(T)) if positions is None else list(positions)
    if not positions or any(not 0 <= p < T for p in positions):
        raise ValueError(f"positions must be a non-empty list of positions in 0..{T - 1}, got {positions}")
    component = model.get_submodule(name)
    saved = {}
    handle = component.register_forward_hook(lambda module, inputs, output: saved.update(output=output))
    try:
        model(corrupted)
    finally:
        handle.remove()

    def replace(module, inputs, output):
        output = output.clone()
        output[:, positions] = saved["output"][:, positions]
        return output

    handle = component.register_forward_hook(replace)
    try:
        return model(clean)
    finally:
        handle.remove()
