"""The training loop: seeded, on the best device, with a progress bar, evaluation and early stopping.

One device rule for the whole library: a model lives on the CPU between calls (as built, loaded or trained),
where the measurements and figures read it. `train` borrows the best device (`pick_device`) and gives the model
back on the CPU; a model moves its inputs to its own device (`Transformer.forward`), and targets follow outputs.

A task is any object with three methods (the tasks in `attnlab.tasks` all have them):
- ``sample(batch_size, generator, split)`` -> ``(inputs, targets)``, with split "train" or "test";
- ``loss(outputs, targets)`` -> a scalar tensor to minimise, from the model's outputs (B, T, out);
- ``metric(outputs, targets)`` -> a float to report (accuracy, risk...), with ``higher_is_better``.
"""
import math
import os
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from . import seeds

_threads_chosen = False


def pick_device(device=None):
    """The device to train on: the argument, else $ATTNLAB_DEVICE, else CUDA, then MPS, then CPU.

    On a CPU the thread count is set once, to $ATTNLAB_THREADS or 1: these models are small, and on a
    busy 2-core machine two threads were measured an order of magnitude slower than one.
    """
    global _threads_chosen
    name = device or os.environ.get("ATTNLAB_DEVICE")
    if name is None:
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    device = torch.device(name)
    if device.type == "cpu" and not _threads_chosen:
        torch.set_num_threads(int(os.environ.get("ATTNLAB_THREADS", "1")))
        _threads_chosen = True
    return device


def describe_device(device=None):
    """One line for a notebook to print: which device, and how many CPU threads.

    Notebooks: 0.1, I.1, I.2, I.3, I.4, I.5, II.1, II.2, II.3, II.4, II.5"""
    device = pick_device(device)
    if device.type == "cuda":
        return f"device: cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "device: mps (Apple GPU)"
    threads = torch.get_num_threads()
    return f"device: {device.type} ({threads} CPU thread{'s' if threads > 1 else ''}; set ATTNLAB_THREADS to change)"


def seed_everything(seed):
    """One seed for torch's global generators; returns a torch.Generator for the data."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class History:
    step: list = field(default_factory=list)  # steps at which we evaluated
    loss: list = field(default_factory=list)  # mean training loss since the previous evaluation
    metric: list = field(default_factory=list)  # the task's metric on the fixed test batch
    seconds: float = 0.0
    stopped_early: bool = False  # reached the target before the last step
    plateaued: bool = False  # stopped because the metric had stopped improving (see `patience`)
    attempts: list = field(default_factory=list)  # [steps, final metric, seconds] of every fresh start, when the run
    # restarted from new initial weights (depth.train_depth_model); this History is the kept one's

    @property
    def final(self):
        return self.metric[-1] if self.metric else float("nan")


def learning_rate(step, steps, lr, warmup):
    """Linear warm-up, then cosine decay to a tenth of lr: a schedule that leaves plateaus sooner."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def evaluate(model, task, inputs, targets, head_mask=None):
    was_training = model.training
    model.eval()
    outputs = model(inputs, head_mask=head_mask)
    value = task.metric(outputs, targets.to(outputs.device))
    model.train(was_training)
    return value


def train(model, task, *, steps=1000, batch_size=64, lr=1e-3, weight_decay=0.0, warmup=None,
          eval_every=100, eval_size=512, target=None, patience=None, min_delta=0.01, seed=0, device=None,
          progress=True, desc="training"):
    """Train `model` on `task` with AdamW and return a History.

    device: where to train (see `pick_device`: by default CUDA, then MPS, then the CPU). Whatever the device, the
      model is handed back on the CPU, still in training mode.

    target: stop as soon as the test metric reaches it (>= when higher is better, else <=).
    patience: stop once the test metric has not bettered its best by min_delta for this many steps: a run
      stuck on a plateau gives its time back (to a fresh start, say).
    progress: show a tqdm bar (it works in a terminal and in a notebook); $ATTNLAB_PROGRESS=0 hides it.

    Notebooks: 0.1, I.3
    """
    if steps < 1 or batch_size < 1 or eval_every < 1 or eval_size < 1:
        raise ValueError(f"steps, batch_size, eval_every and eval_size must be at least 1, got "
                         f"{steps}, {batch_size}, {eval_every}, {eval_size}")
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be at least 1 step (or None for no plateau stop), got {patience}")
    device = pick_device(device)
    generator = seed_everything(seed)
    model.to(device).train()
    test_inputs, test_targets = task.sample(eval_size, seeds.generator(seed, "early_stopping"), "test")
    warmup = min(100, steps // 10) if warmup is None else warmup
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    reached = (lambda m: m >= target) if task.higher_is_better else (lambda m: m <= target)
    sign = 1 if task.higher_is_better else -1
    best, best_step = -math.inf, 0  # of sign * metric, for the plateau stop

    history, running, since_eval = History(), 0.0, 0
    show = progress and os.environ.get("ATTNLAB_PROGRESS", "1") != "0"
    bar = tqdm(range(steps), desc=desc, disable=not show, leave=False)
    start = time.perf_counter()
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, lr, warmup)
        inputs, targets = task.sample(batch_size, generator, "train")
        outputs = model(inputs)  # the model moves the inputs to its device
        loss = task.loss(outputs, targets.to(outputs.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running, since_eval = running + loss.item(), since_eval + 1

        if (step + 1) % eval_every == 0 or step + 1 == steps:
            metric = evaluate(model, task, test_inputs, test_targets)
            history.step.append(step + 1)
            history.loss.append(running / since_eval)
            history.metric.append(metric)
            running, since_eval = 0.0, 0
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}", metric=f"{metric:.3f}")
            if target is not None and reached(metric):
                history.stopped_early = step + 1 < steps
                break
            if sign * metric > best + min_delta:
                best, best_step = sign * metric, step + 1
            elif patience is not None and step + 1 - best_step >= patience and step + 1 < steps:
                history.plateaued = True
                break
    bar.close()
    history.seconds = time.perf_counter() - start
    model.cpu()  # back where the rest of the library expects it (the module's doc)
    return history
