"""A study small enough for the zoo's own tests: the first-token task, trained for a few steps."""
import torch

from attnlab import Config, Transformer, train
from attnlab.tasks import FirstToken


def zoo_recipes():
    return {"tiny/first_token": {"seed": 0, "steps": 30}}


def build_zoo_model(seed, steps, progress=True):
    task = FirstToken(vocab_size=8, seq_len=4)
    torch.manual_seed(seed)
    model = Transformer(Config(max_len=4, vocab_size=8, output_dim=8, width=16, depth=1))
    history = train(model, task, steps=steps, eval_every=10, seed=seed, progress=progress)
    return model, {"seed": seed, "steps": history.step[-1], "metrics": {"accuracy": history.final},
                   "history": {"step": history.step, "metric": history.metric}}


def measure_zoo_model(model, metadata):
    """Measured afresh: the accuracy on a fixed batch, beside the training's own metadata."""
    inputs, targets = FirstToken(vocab_size=8, seq_len=4).sample(64, torch.Generator().manual_seed(1))
    with torch.no_grad():
        accuracy = (model(inputs)[:, -1].argmax(-1) == targets).float().mean().item()
    return {**metadata, "metrics": {"accuracy": metadata["history"]["metric"][-1], "remeasured": accuracy}}
