"""Comparing two predictors on the same prompts: the mean of their paired differences, with a 95% interval.

Two predictors scored on different prompts differ by the luck of their prompts as well as by their skill; on the
same prompts, that luck cancels prompt by prompt, and what is left is the difference itself. So every comparison
of Part II (a trained model, ridge, gd, the Lasso, the oracle, preprocess_gd, the construction) is made on the
evaluation prompts they share, each method tuned on prompts of its own beforehand.

- `paired_difference`: one seed. errors_a - errors_b prompt by prompt; the interval is the normal approximation
  over prompts, mean +- z * sd / sqrt(prompts) (thousands of prompts: the central limit theorem holds well).
  `by_n`: the same at each number of examples. `ratio_difference`: the same for statistics that are ratios of
  means over prompts.
- `over_seeds`: several seeds. The per-seed means are the data; the interval is Student's t with seeds - 1 degrees
  of freedom, mean +- t * sd / sqrt(seeds) (ten numbers are too few for the normal approximation).
- `first_n_below`: the first number of examples n >= 1 at which a predictor is below another, interval and all.
"""
import math
import statistics

import torch


def _check_level(level):
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")


def paired_difference(errors_a, errors_b, level=0.95):
    """(mean, (low, high)): the mean over prompts of errors_a - errors_b, and its interval (normal approximation).

    errors_a, errors_b: (prompts,) per-prompt squared errors of two predictors on the SAME prompts, in the same
    order. A negative mean says a is better; an interval wholly below 0 says so at this level.

    Notebooks: II.2"""
    _check_level(level)
    a, b = (torch.as_tensor(e, dtype=torch.float64) for e in (errors_a, errors_b))
    if a.dim() != 1 or a.shape != b.shape:
        raise ValueError(f"errors_a and errors_b must be 1-D and of the same length (one error per shared prompt), "
                         f"got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if len(a) < 2:
        raise ValueError(f"need at least 2 prompts for an interval, got {len(a)}")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("errors must be finite")
    difference = a - b
    mean = difference.mean().item()
    half = statistics.NormalDist().inv_cdf((1 + level) / 2) * difference.std().item() / math.sqrt(len(difference))
    return mean, (mean - half, mean + half)


def by_n(errors_a, errors_b, level=0.95):
    """{n: (mean, (low, high))}: paired_difference at each number of examples, from two (B, n + 1) tables of
    per-prompt errors on the same prompts (column n: after n examples, as analysis.errors_by_n gives them).

    Notebooks: II.2"""
    a, b = torch.as_tensor(errors_a), torch.as_tensor(errors_b)
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"errors_a and errors_b must be (prompts, n + 1) tables of the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    return {n: paired_difference(a[:, n], b[:, n], level) for n in range(a.shape[1])}


def ratio_difference(terms_a, terms_b, level=0.95):
    """(mean, (low, high)): R_a - R_b for two statistics that are ratios of means over the same prompts,
    R = mean(numerator) / mean(denominator) (an additivity gap, a least-squares slope), and its interval.

    terms_a, terms_b: (numerators, denominators), each (prompts,), per prompt and on the SAME prompts. The interval
    is the normal approximation of paired_difference applied to each prompt's share of the difference, its first
    order effect (numerator - R * denominator) / mean(denominator) (the delta method); with every denominator 1 it
    is paired_difference of the numerators.

    Notebooks: II.2"""
    def share(terms):
        numerator, denominator = (torch.as_tensor(t, dtype=torch.float64) for t in terms)
        if numerator.dim() != 1 or numerator.shape != denominator.shape:
            raise ValueError(f"numerators and denominators must be 1-D and of the same length, got shapes "
                             f"{tuple(numerator.shape)} and {tuple(denominator.shape)}")
        if denominator.mean() == 0:
            raise ValueError("the denominators' mean must not be 0")
        ratio = numerator.mean() / denominator.mean()
        return ratio + (numerator - ratio * denominator) / denominator.mean()  # mean: the ratio itself

    return paired_difference(share(terms_a), share(terms_b), level)


def t_quantile(p, df):
    """The p-quantile of Student's t distribution with df degrees of freedom (p in (0.5, 1)).

    Its CDF, 1/2 plus the integral of the density from 0 (Simpson's rule), is increasing: bisection finds where
    it reaches p. The Python standard library has the normal quantile but not this one."""
    if not 0.5 < p < 1 or df < 1:
        raise ValueError(f"need 0.5 < p < 1 and df >= 1, got p={p}, df={df}")
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    density = lambda x: math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))  # noqa: E731

    def cdf(t, intervals=2000):
        h = t / intervals
        inner = sum((4 if i % 2 else 2) * density(i * h) for i in range(1, intervals))
        return 0.5 + h / 3 * (density(0) + inner + density(t))

    low, high = 0.0, 1.0
    while cdf(high) < p:
        high *= 2
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < p else (low, middle)
    return (low + high) / 2


def over_seeds(means, level=0.95):
    """(mean, (low, high)): the mean of per-seed mean differences and its t-interval (seeds - 1 degrees of freedom).

    means: one paired mean difference per seed (paired_difference's mean), each from the same comparison."""
    _check_level(level)
    means = [float(m) for m in means]
    if len(means) < 2 or not all(math.isfinite(m) for m in means):
        raise ValueError(f"need at least 2 finite per-seed means for an interval, got {means}")
    mean = statistics.fmean(means)
    half = t_quantile((1 + level) / 2, len(means) - 1) * statistics.stdev(means) / math.sqrt(len(means))
    return mean, (mean - half, mean + half)


def first_n_below(intervals):
    """The smallest n >= 1 whose interval lies wholly below 0, or None if none does.

    intervals: {n: (mean, (low, high))}, such as paired_difference's for each number of examples. n = 0 is never
    the answer: with no examples every predictor of the course says 0, so nothing there is below anything.

    Notebooks: II.2"""
    if any(not isinstance(n, int) or n < 0 for n in intervals):
        raise ValueError(f"the keys must be numbers of examples n >= 0, got {sorted(intervals)}")
    return next((n for n in sorted(intervals) if n >= 1 and intervals[n][1][1] < 0), None)
