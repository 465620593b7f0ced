"""Benchmark section 1, the training step: steps/s of our model beside GPT-2 and torch's TransformerEncoder, the
FLOP/s a step achieves against a large matmul, and one thread against two (see bench.py)."""
import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from attnlab import Config, Transformer, depth, heads


class Readout(nn.Module):
    """A contender's trunk between the course's read-in and read-out, so every contender sees the same data."""

    def __init__(self, trunk, cfg):
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.width) if cfg.vocab_size else nn.Linear(cfg.input_dim, cfg.width)
        self.trunk, self.unembed = trunk, nn.Linear(cfg.width, cfg.output_dim)
        self.causal = nn.Transformer.generate_square_subsequent_mask(cfg.max_len)

    def forward(self, x):
        h = self.embed(x)
        if isinstance(self.trunk, nn.TransformerEncoder):
            h = self.trunk(h, mask=self.causal[:h.shape[1], :h.shape[1]], is_causal=True)
        else:  # GPT2Model: causal by construction, its own positional table
            h = self.trunk(inputs_embeds=h).last_hidden_state
        return self.unembed(h)


def gpt2(cfg):
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(n_embd=cfg.width, n_layer=cfg.depth, n_head=cfg.heads, n_positions=cfg.max_len,
                        vocab_size=1, bos_token_id=None, eos_token_id=None, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0)
    return Readout(GPT2Model(config), cfg)


def torch_encoder(cfg):
    layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, 4 * cfg.width, dropout=0.0, batch_first=True,
                                       norm_first=True)
    return Readout(nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False), cfg)


def course_sizes():
    """The default Part I (in-context QA at depth 2) and Part II (the heads study's default) configurations."""
    icqa = depth.make_task("icqa")
    part1 = depth.make_model("icqa", 2, icqa).cfg
    task2 = heads.make_task()
    part2 = heads.make_model(task2).cfg
    return {"part1_icqa": (part1, icqa, depth.RECIPES["icqa"].batch_size),
            "part2_regression": (part2, task2, heads.TRAINING["batch_size"])}


def contenders(cfg):
    with_mlp = Config(**{**vars(cfg), "mlp": True})
    return {"ours": lambda: Transformer(cfg), "ours + MLP": lambda: Transformer(with_mlp),
            "GPT2Model": lambda: gpt2(cfg), "nn.TransformerEncoder": lambda: torch_encoder(cfg)}


def step_function(model, task, batch):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        loss = task.loss(model(batch[0]), batch[1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def steps_per_second(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def flops_per_step(step):
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def matmul_flops_per_second(n=2048, repeats=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def thread_choice(rounds, steps_each):
    """Our Part II training step with 1 and with 2 CPU threads, alternating: the evidence for the default."""
    cfg, task, batch_size = course_sizes()["part2_regression"]
    batch = task.sample(batch_size, torch.Generator().manual_seed(0), "train")
    step = step_function(Transformer(cfg), task, batch)
    speed = {1: [], 2: []}
    for _ in range(rounds):
        for threads in speed:
            torch.set_num_threads(threads)
            speed[threads].append(steps_per_second(step, steps_each))
    torch.set_num_threads(1)
    medians = {threads: round(statistics.median(runs), 2) for threads, runs in speed.items()}
    print(f"\nours, Part II size, steps/s by CPU threads: {medians}")
    return medians


def training_section(rounds, steps_each, report):
    """Steps/s of every contender at both course sizes, alternating within each round; FLOP/s as a share of a
    large matmul timed in the same rounds (so it sees the same machine load)."""
    print(f"\n== training step: {rounds} rounds of {steps_each} steps ==")
    peak = []
    for name, (cfg, task, batch_size) in course_sizes().items():
        batch = task.sample(batch_size, torch.Generator().manual_seed(0), "train")
        steps = {}
        for label, make in contenders(cfg).items():
            torch.manual_seed(0)
            steps[label] = step_function(make(), task, batch)
            steps[label]()  # warm up
        flops = {label: flops_per_step(step) for label, step in steps.items()}
        speed = {label: [] for label in steps}
        for _ in range(rounds):
            peak.append(matmul_flops_per_second())
            for label, step in steps.items():  # alternate: every contender once per round
                speed[label].append(steps_per_second(step, steps_each))
        machine = statistics.median(peak)
        print(f"\n{name}: width {cfg.width}, depth {cfg.depth}, heads {cfg.heads}, sequence {task.seq_len}, "
              f"batch {batch_size}; fp32 matmul peak {machine / 1e9:.1f} GFLOP/s")
        print(f"{'contender':24s} {'steps/s':>9s} {'ours is':>9s} {'MFLOP/step':>11s} {'of peak':>8s}")
        ours = statistics.median(speed["ours"])
        for label, runs in speed.items():
            median = statistics.median(runs)
            fraction = flops[label] * median / machine
            print(f"{label:24s} {median:9.1f} {ours / median:8.2f}x {flops[label] / 1e6:11.1f} {fraction:8.1%}")
            report["training"].append({"size": name, "contender": label, "steps_per_s": round(median, 2),
                                       "ours_speedup": round(ours / median, 2), "flops_per_step": flops[label],
                                       "fraction_of_matmul_peak": round(fraction, 4)})
    report["matmul_peak_flops"] = statistics.median(peak)
    report["threads_steps_per_s"] = thread_choice(rounds, steps_each)
