"""II.2's live recipe on ten seeds: the default Part II model trained for heads.LIVE_TRAINING's steps, its mean
risk over n = s..d against tuned ridge on the same prompts (the mean paired difference, with a 95% interval), and
the seconds each training took. A model is below ridge on a seed when the whole interval is below 0.

    python benchmarks/live_recipe.py [--seeds 0-9]      # about 15 minutes on one core
"""
import argparse
import statistics
import time

from attnlab import heads
from attnlab.reproduce import parse_seeds
from attnlab.seeds import generator


def below_ridge(seed):
    """(seconds to train, mean paired difference model - ridge over n = s..d, its 95% interval's half-width)."""
    start = time.perf_counter()
    run = heads.train_run(seed=seed, progress=False, training=heads.LIVE_TRAINING)
    seconds = time.perf_counter() - start
    task = run.task
    prompts, tuning = task.prompts(4000, generator(seed, "measure")), task.prompts(2000, generator(seed, "baselines"))
    return (seconds, *heads.minus_ridge(run.model, task, prompts, tuning))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-9"))
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        seconds, mean, half = below_ridge(seed)
        rows.append((seconds, mean, half))
        print(f"seed {seed}: trained in {seconds:.0f} s; model - ridge {mean:+.4f} ({mean - half:+.4f} to {mean + half:+.4f})",
              flush=True)
    means = [mean for _, mean, _ in rows]
    holds = sum(mean + half < 0 for _, mean, half in rows)
    print(f"{heads.LIVE_TRAINING['steps']} steps: model - ridge, median {statistics.median(means):+.4f}, worst "
          f"{max(means):+.4f}; below ridge in {holds} / {len(rows)} seeds; training took "
          f"{statistics.median(s for s, _, _ in rows):.0f} s (median), {max(s for s, _, _ in rows):.0f} s at most")


if __name__ == "__main__":
    main()
