"""Part II's claims, measured afresh on the course's pretrained default model (seed 0), and the zoo switch.

Each claim of paper B that the course checks is one test. A claim that does not hold at this scale is a
strict xfail that says so: if a better set-up makes it hold, the test fails until this file (and the
notebooks' prose) are updated.
"""
import pytest
import torch

from attnlab import baselines, heads

# The claims that did not hold on the committed default model, with what was measured (see the Part II.3
# notebook and the README's "Reproducing the science").
NOT_AT_THIS_SCALE = {
    "pruned within 10% of the full model":
        "the later layer spreads its work over several heads: keeping only its top head raised the risk 2.4-2.8x "
        "in every seed (0.83-1.01 against 0.34-0.36)",
    "the transformer's mean risk over n = s..d is below tuned ridge and tuned gd":
        "0.48-0.52 against ridge 0.39-0.41 and gd 0.42-0.44 in every seed: 10000 steps on a CPU are far from enough "
        "for the model to exploit sparsity",
    "the transformer is below ridge at n = d": "0.27-0.29 against 0.10-0.12 in every seed",
}


@pytest.fixture(scope="module")
def measured():
    """The reproduction's measurements (heads.analyse, seed 0's prompts), taken afresh on the zoo's models."""
    task = heads.make_task()
    model, metadata = heads.pretrained(heads.LAYERS, heads.HEADS)
    single, _ = heads.pretrained(heads.LAYERS, 1)
    result = heads.analyse(model, task, seed=0)
    pruning = {**result["pruning"], "single_head_model": heads.analyse(single, task, seed=0)["mean_risk"]}
    claims = heads.mechanism_claims(result["shares"], pruning, result["probing"])
    curves = baselines.risk_curves(task.d, task.s, task.sigma, range(task.n + 1), methods=("ridge", "gd"),
                                   steps=heads.GD_STEPS, num_tune=2000, num_eval=heads.EVAL_PROMPTS, seed=7)
    risk = result["risk_by_n"]
    n_values = range(task.s, task.d + 1)
    mean = lambda curve: sum(curve[n] for n in n_values) / len(n_values)  # noqa: E731
    ridge, gd = curves["ridge"]["risk"], curves["gd"]["risk"]
    claims.append(("the transformer's mean risk over n = s..d is below tuned ridge and tuned gd",
                   mean(risk) < mean(ridge) and mean(risk) < mean(gd),
                   f"{mean(risk):.3f} vs ridge {mean(ridge):.3f}, gd {mean(gd):.3f}"))
    claims.append(("the transformer is below ridge at n = d", risk[task.d] < ridge[task.d],
                   f"{risk[task.d]:.3f} vs {ridge[task.d]:.3f}"))
    return {claim: (holds, detail) for claim, holds, detail in claims}, result, metadata


CLAIMS = [
    "layer 1: no head carries more than half of the layer's importance",
    "each later layer: the top head carries at least 60%",
    "pruned within 10% of the full model",
    "one head in layer 1 raises the risk by 30% or more",
    "the probe's risk falls from each layer to the next",
    "the transformer's mean risk over n = s..d is below tuned ridge and tuned gd",
    "the transformer is below ridge at n = d",
]


def _param(claim):
    if claim not in NOT_AT_THIS_SCALE:
        return claim
    return pytest.param(claim, marks=pytest.mark.xfail(strict=True, reason=NOT_AT_THIS_SCALE[claim]))


@pytest.mark.parametrize("claim", [_param(c) for c in CLAIMS])
def test_paper_b_claim_on_the_default_model(measured, claim):
    claims, _, _ = measured
    holds, detail = claims[claim]
    assert holds, f"{claim}: {detail}"


def test_the_default_model_learns_in_context(measured):
    """Whatever the claims, the model must use the examples: its risk falls far below 1 (knowing nothing)."""
    _, result, _ = measured
    risk, task = result["risk_by_n"], heads.make_task()
    assert risk[0] > 0.8 and risk[task.n] < 0.2 * risk[0], [round(r, 3) for r in risk]


def test_the_explorer_shows_what_the_model_does(measured):
    """The numbers stored with the zoo model, which the heads explorer draws, are the model's own."""
    _, result, metadata = measured
    stored = metadata["analysis"]
    assert torch.allclose(torch.tensor(stored["risk_by_n"]), torch.tensor(result["risk_by_n"]), atol=1e-4)
    assert torch.allclose(torch.tensor(stored["shares"]), torch.tensor(result["shares"]), atol=1e-3)


def test_grading_always_takes_the_zoo(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    _, history = heads.default_model(live=True)  # would train for minutes if it did not take the zoo
    assert history.step[-1] == heads.zoo.entry(heads.zoo_name(heads.LAYERS, heads.HEADS))["steps"]


def test_the_zoo_holds_every_shape_of_the_explorer():
    for layers in heads.ZOO_LAYERS:
        for count in heads.ZOO_HEADS:
            entry = heads.zoo.entry(heads.zoo_name(layers, count))
            assert (entry["config"]["depth"], entry["config"]["heads"]) == (layers, count)
    assert heads.zoo.entry(heads.CONTRAST)["kwargs"]["contrast"] is True
    with pytest.raises(ValueError, match="the zoo has layers in"):
        heads.pretrained(5, 4)
