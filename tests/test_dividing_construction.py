"""The dividing algorithm (attnlab.construction_dividing) and its ten-seed study (attnlab.heads.dividing_study)."""
import dataclasses
import json
import re
from pathlib import Path

import pytest
import torch

from attnlab import heads
from attnlab.construction_dividing import normalized_gd
from attnlab.heads import dividing_study as ds
from attnlab.seeds import generator
from attnlab.tasks.regression import sample_prompts


def by_hand(X, y, x_query, steps, lr, beta):
    """The same algorithm one prompt and one example at a time, in plain Python floats."""
    out = []
    for Xb, yb, q in zip(X.tolist(), y.tolist(), x_query.tolist()):
        n, d = len(Xb), len(q)
        c = [sum(x[j] * t / sum(v * v for v in x) for x, t in zip(Xb, yb)) / n for j in range(d)]
        P = [1 + beta * cj ** 2 / sum(v * v for v in c) for cj in c]
        norms = [sum(P[j] * x[j] ** 2 for j in range(d)) ** 0.5 for x in Xb]
        Xn = [[v / s for v in x] for x, s in zip(Xb, norms)]
        yn = [t / s for t, s in zip(yb, norms)]
        w = [0.0] * d
        for _ in range(steps):
            r = [t - sum(a * b for a, b in zip(w, x)) for x, t in zip(Xn, yn)]
            w = [w[j] + lr * P[j] * sum(x[j] * ri for x, ri in zip(Xn, r)) / n for j in range(d)]
        out.append(sum(a * b for a, b in zip(w, q)))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("n", [1, 3, 9])
def test_it_is_the_algorithm_of_its_doc(n):
    P = sample_prompts(30, d=4, s=1, n=n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    for steps, lr, beta in ((1, 1.0, 0.0), (3, 1.4, 300.0), (5, 0.7, 3.0)):
        torch.testing.assert_close(normalized_gd(P.X, P.y, P.x_query, steps, lr, beta),
                                   by_hand(P.X, P.y, P.x_query, steps, lr, beta), rtol=1e-12, atol=1e-12)


def test_the_division_makes_it_scale_free_and_consistent():
    """Scaling y scales every prediction (the reweighting is a ratio); with many noise-free examples and many steps
    it recovers w exactly, whatever beta (weighted least squares on a consistent system)."""
    P = sample_prompts(50, d=4, s=1, n=3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    base = normalized_gd(P.X, P.y, P.x_query, 3, 1.4, 300.0)
    for t in (1e-3, 10.0, 1e3):
        torch.testing.assert_close(normalized_gd(P.X, t * P.y, P.x_query, 3, 1.4, 300.0), t * base)
    Q = sample_prompts(20, d=4, s=1, n=12, sigma=0.0, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for beta in (0.0, 10.0):
        torch.testing.assert_close(normalized_gd(Q.X, Q.y, Q.x_query, 4000, 1.0, beta), Q.target)


def test_the_study_pairs_its_comparisons():
    task = ds.make_task()
    errors, params = ds.seed_errors(task, seed=0, steps=2, num_tune=200, num_eval=300)
    assert set(errors) == set(ds.METHODS) and all(e.shape == (300, 3) for e in errors.values())
    mean, low, high = ds.paired(errors, "dividing", "dividing")
    assert mean == low == high == 0.0
    rows = [{"d": (-1.0, -1.5, -0.5)}, {"d": (2.0, 1.0, 3.0)}, {"d": (-3.0, -4.0, -2.0)}]
    median, worst, holds, pooled = ds.summary(rows, "d")
    assert (median, worst, holds) == (-1.0, 2.0, 2) and pooled[0] == pytest.approx(-2 / 3)


def test_a_trained_model_is_scored_on_the_same_prompts():
    """With a model, "trained" holds its squared errors on the held-out prompts the methods are scored on, at each n
    of the study: checked against the model's own predictions, computed here from the prompts' tokens."""
    task = ds.make_task()
    model = heads.make_model(task, layers=1, heads=2)  # untrained: any model will do
    errors, _ = ds.seed_errors(task, seed=0, steps=2, num_tune=100, num_eval=50, model=model)
    g = generator(0, "construction_risks")
    sample_prompts(100, task.d, task.s, task.d, task.sigma, g, torch.float64)  # the tuning prompts come first
    held_out = sample_prompts(50, task.d, task.s, task.d, task.sigma, g, torch.float64)
    for column, n in enumerate(range(task.s, task.d)):
        P = held_out.first(n)
        single = dataclasses.replace(P, X=P.X.float(), y=P.y.float(), x_query=P.x_query.float())
        with torch.no_grad():
            prediction = model(task.encode(single))[:, -1, 0].double()
        torch.testing.assert_close(errors["trained"][:, column], (prediction - P.target) ** 2, rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_refused():
    P = sample_prompts(4, d=3, s=1, n=2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="non-negative"):
        normalized_gd(P.X, P.y, P.x_query, steps=2, lr=1.0, beta=-1.0)
    with pytest.raises(ValueError, match="shapes disagree"):
        normalized_gd(P.X, P.y[:, :1], P.x_query)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        ds.seed_errors(ds.make_task(), 0, steps=0)


def test_the_notebook_quotes_the_recorded_ten_seed_table():
    """II.5's sentences on ten seeds are the numbers of the table that benchmarks/construction_search.py printed,
    recorded in results/construction_search.md: the median paired difference with ridge at 2 and 3 steps, and in how
    many seeds each interval lay below 0."""
    root = Path(__file__).resolve().parents[1]
    record = (root / "results" / "construction_search.md").read_text()
    rows = {(int(steps), comparison.strip()): (float(median), int(below), int(interval))
            for steps, comparison, median, below, interval in
            re.findall(r"^\| (\d) +\| ((?:dividing|layernorm) - \w+) *\| ([+-]\d\.\d+) \| [+-]\d\.\d+ \| (\d+)/10 +\| "
                       r"(\d+)/10", record, re.M)}
    assert len(rows) == 8
    notebook = json.loads((root / "solutions" / "part2_heads" / "05_construction_in_weights.ipynb").read_text())
    text = next("".join(c["source"]) for c in notebook["cells"] if c["id"] == "md-dividing-reading")
    text = " ".join(text.split())
    two, three = rows[2, "dividing - ridge"], rows[3, "dividing - ridge"]
    assert all(rows[k, "dividing - gd"][2] == 10 for k in (2, 3)) and "each seed's interval below 0" in text
    assert two[0] > 0 and two[1] == 0 and f"stayed above ridge in all ten (median {two[0]:+.3f})" in text
    assert three[0] < 0 and three[1] == 10 and three[2] == 0
    assert f"below ridge in all ten, but by a median of only {-three[0]:.3f}" in text
    assert "no single seed's interval lay wholly below 0" in text
    # the layer-norm transformer: three gradient layers below ridge and gd in all ten seeds, two above ridge
    ridge, gd, two = rows[3, "layernorm - ridge"], rows[3, "layernorm - gd"], rows[2, "layernorm - ridge"]
    assert ridge[1] == 10 and gd[1] == gd[2] == 10 and two[1] == 0
    assert (f"it was below ridge in all ten (median {ridge[0]:.3f}; the interval below 0 in {ridge[2]} of them) and below "
            f"gradient descent in all ten (median {gd[0]:.3f}); with two it stayed above ridge") in text
