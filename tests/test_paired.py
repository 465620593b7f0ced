"""Paired comparisons on shared prompts (attnlab.paired), checked against scipy's intervals."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from attnlab import paired


def test_the_interval_over_prompts_is_scipys_normal_interval():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(500, generator=g), torch.rand(500, generator=g)
    mean, (low, high) = paired.paired_difference(a, b)
    difference = (a - b).double().numpy()
    expected = stats.norm.interval(0.95, loc=difference.mean(), scale=stats.sem(difference))
    assert mean == pytest.approx(difference.mean(), abs=1e-12)
    assert (low, high) == pytest.approx(expected, abs=1e-9)


def test_identical_predictors_differ_by_exactly_nothing():
    errors = torch.rand(100, generator=torch.Generator().manual_seed(1))
    assert paired.paired_difference(errors, errors.clone()) == (0.0, (0.0, 0.0))


def test_a_better_predictor_is_found_below_and_an_unpaired_look_would_miss_it():
    """b's errors vary a lot from prompt to prompt, a is b minus 0.05 give or take a little: paired, the interval
    lies below 0 and holds -0.05; the same numbers taken as two separate samples give an interval across 0."""
    g = torch.Generator().manual_seed(2)
    b = 3 * torch.rand(400, generator=g)
    a = b - 0.05 + 0.01 * torch.randn(400, generator=g)
    mean, (low, high) = paired.paired_difference(a, b)
    assert high < 0 and low < -0.05 < high
    unpaired = stats.ttest_ind(a.numpy(), b.numpy()).confidence_interval(0.95)
    assert unpaired.low < 0 < unpaired.high


def test_the_interval_over_seeds_is_scipys_t_interval():
    means = [0.12, -0.03, 0.08, 0.05, 0.10, 0.01, 0.07, 0.02, 0.09, 0.04]
    mean, (low, high) = paired.over_seeds(means)
    expected = stats.t.interval(0.95, len(means) - 1, loc=np.mean(means), scale=stats.sem(means))
    assert mean == pytest.approx(np.mean(means)) and (low, high) == pytest.approx(expected, abs=1e-9)
    for p, df in [(0.975, 1), (0.975, 9), (0.995, 4), (0.9, 100)]:
        assert paired.t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), abs=1e-9)


def test_by_n_and_the_first_n_below():
    g = torch.Generator().manual_seed(3)
    b = torch.rand(300, 4, generator=g)
    a = b.clone()
    a[:, 2:] -= 0.1  # a is better from n = 2 on, and the same before
    a[:, 0] -= 0.3  # and at n = 0, where no predictor of the course has anything to go on: never the answer
    intervals = paired.by_n(a, b)
    assert sorted(intervals) == [0, 1, 2, 3] and intervals[1] == (0.0, (0.0, 0.0))
    assert paired.first_n_below(intervals) == 2
    assert paired.first_n_below({0: (-1.0, (-2.0, -0.5)), 1: (0.1, (-0.1, 0.3))}) is None


def test_a_difference_of_ratios_of_means_has_a_bootstrap_interval():
    """Two ratios of means over the same prompts (an additivity gap, a slope): the delta method's interval against a
    paired bootstrap (numpy, resampling prompts, the same draws for both), and with unit denominators the plain
    paired difference of the numerators."""
    g = torch.Generator().manual_seed(3)
    den_a, den_b = 1 + torch.rand(3000, generator=g), 1 + torch.rand(3000, generator=g)
    shared = torch.rand(3000, generator=g)  # what the two share prompt by prompt, which pairing cancels
    num_a, num_b = shared + 0.3 * den_a * torch.rand(3000, generator=g), shared + 0.2 * den_b
    mean, (low, high) = paired.ratio_difference((num_a, den_a), (num_b, den_b))
    a, b = (np.stack([t.double().numpy() for t in terms]) for terms in ((num_a, den_a), (num_b, den_b)))
    assert mean == pytest.approx(a[0].mean() / a[1].mean() - b[0].mean() / b[1].mean(), abs=1e-12)
    draws = np.random.default_rng(0).integers(0, 3000, size=(4000, 3000))
    boot = a[0][draws].mean(1) / a[1][draws].mean(1) - b[0][draws].mean(1) / b[1][draws].mean(1)
    assert (high - low) / 2 == pytest.approx(stats.norm.ppf(0.975) * boot.std(), rel=0.05)
    assert (low, high) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])), abs=0.1 * (high - low))
    ones = torch.ones(3000)
    (mean, interval), (plain, plain_interval) = (paired.ratio_difference((num_a, ones), (num_b, ones)),
                                                 paired.paired_difference(num_a, num_b))
    assert (mean, *interval) == pytest.approx((plain, *plain_interval), abs=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: paired.paired_difference(torch.ones(3), torch.ones(4)), "same length"),
    (lambda: paired.paired_difference(torch.ones(1), torch.ones(1)), "at least 2 prompts"),
    (lambda: paired.paired_difference(torch.tensor([1.0, math.nan]), torch.ones(2)), "finite"),
    (lambda: paired.paired_difference(torch.ones(3), torch.ones(3), level=1.0), "strictly between 0 and 1"),
    (lambda: paired.by_n(torch.ones(3), torch.ones(3)), r"\(prompts, n \+ 1\) tables"),
    (lambda: paired.over_seeds([0.1]), "at least 2 finite per-seed means"),
    (lambda: paired.ratio_difference((torch.ones(3), torch.ones(4)), (torch.ones(3), torch.ones(3))), "same length"),
    (lambda: paired.ratio_difference((torch.ones(3), torch.zeros(3)), (torch.ones(3), torch.ones(3))), "must not be 0"),
    (lambda: paired.t_quantile(0.3, 4), "0.5 < p < 1"),
    (lambda: paired.first_n_below({-1: (0.0, (0.0, 0.0))}), "numbers of examples"),
])
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
