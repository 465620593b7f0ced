"""Every random stream of the course, named in one place: the generator seed of each kind of draw, for a run
with seed s.

Training draws its batches from a generator seeded with s itself, and the model's first weights from torch's
global generator, also seeded with s (`train.seed_everything`). Every other draw has a stream of its own, at a
fixed offset from s, so that no two measurements share prompts and none shares them with training.
"""
import torch

OFFSETS = {
    "early_stopping": 10_000,  # train(): the fixed test batch that early stopping watches
    "final_test": 20_000,  # the final test sample, after training (depth.test_accuracy)
    # Part II's measurements (attnlab.heads)
    "measure": 1_000_000,  # risk curves, importance, pruning
    "probe_fit": 2_000_000,  # the probe's read-out is fitted on these...
    "probe_test": 3_000_000,  # ...and scored on these
    "baselines": 4_000_000,  # tuning and scoring ridge, gd, the Lasso...
    "probing_reference": 5_000_000,  # gd and preprocess_gd after k steps, beside the probe
    "construction": 6_000_000,  # the hand-built construction's exactness and pattern
    "construction_risks": 7_000_000,  # tuning and scoring the construction against gd and ridge
    "benchmark_reference": 8_000_000,  # benchmarks/time_to_result.py: the ridge risk a run must beat
    "restarts": 9_000_000,  # Part I's fresh starts: the initial weights of attempt 2, 3... (restart_seed)
}
RESTART_SPACING = 10_000  # attempt a >= 1 of seed s starts from OFFSETS["restarts"] + RESTART_SPACING * (a - 1) + s


def stream_seed(seed, purpose):
    """The generator seed of one kind of draw (a key of OFFSETS) for a run with `seed`."""
    if purpose not in OFFSETS:
        raise ValueError(f"purpose must be one of {tuple(OFFSETS)}, got {purpose!r}")
    return OFFSETS[purpose] + seed


def generator(seed, purpose):
    """A torch.Generator seeded for one kind of draw (see stream_seed)."""
    return torch.Generator().manual_seed(stream_seed(seed, purpose))


def restart_seed(seed, attempt):
    """The seed of the initial weights of a run's attempt (0, 1, 2...): the run's own seed for the first, and a
    stream of its own for each fresh start after it, so that attempt 0 is the plain run."""
    if attempt == 0:
        return seed
    return OFFSETS["restarts"] + RESTART_SPACING * (attempt - 1) + seed
