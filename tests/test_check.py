"""The checks behind the graded exercises: the delegation watch and the stand-in answers."""
import sys

import pytest
import torch
import torch.nn.functional as F

import attnlab.heads.run
from attnlab import answers, baselines, check
from attnlab.tasks.regression import sample_prompts

PROMPTS = sample_prompts(8, d=4, s=1, n=3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
ARGS = (PROMPTS.X, PROMPTS.y, PROMPTS.x_query, 0.5)

from attnlab.baselines import ridge as borrowed_ridge  # noqa: E402 (an alias bound before the answer)


def direct(X, y, x_query, lam):
    return baselines.ridge(X, y, x_query, lam)


def aliased(X, y, x_query, lam):
    return borrowed_ridge(X, y, x_query, lam)


def inner_import(X, y, x_query, lam):
    from attnlab.baselines import ridge
    return ridge(X, y, x_query, lam)


def other_path(X, y, x_query, lam):
    return attnlab.heads.run.bl.ridge(X, y, x_query, lam)  # the same function, reached through another module


def through_a_helper(X, y, x_query, lam):
    return (lambda: baselines.ridge_weights(X, y, lam))().mul(x_query).sum(-1)


def honest(X, y, x_query, lam):
    gram = X.transpose(1, 2) @ X + lam * torch.eye(X.shape[-1], dtype=X.dtype)
    return (torch.linalg.solve(gram, X.transpose(1, 2) @ y[..., None])[..., 0] * x_query).sum(-1)


def switches_off(X, y, x_query, lam):
    hook = sys.getprofile()
    sys.setprofile(None)
    result = baselines.ridge(X, y, x_query, lam)
    sys.setprofile(hook)
    return result


RIDGE = (baselines.ridge, baselines.ridge_weights)


@pytest.mark.parametrize("answer", [direct, aliased, inner_import, other_path, through_a_helper, switches_off])
def test_a_delegating_answer_is_caught_whatever_the_route(answer):
    with pytest.raises(check.Delegated, match=f"{answer.__name__} .*(calls attnlab.baselines.ridge|switch)"):
        with check.own_work(answer, forbidden=RIDGE):
            answer(*ARGS)


def test_the_answer_bound_to_the_reference_itself_is_caught_before_it_runs():
    with pytest.raises(check.Delegated, match="is attnlab.baselines.ridge itself"):
        with check.own_work(baselines.ridge, forbidden=RIDGE):
            raise AssertionError("the block must not run")


def test_an_honest_answer_keeps_its_points_and_the_check_may_call_the_reference():
    with check.own_work(honest, forbidden=RIDGE):
        check.close(honest(*ARGS), baselines.ridge(*ARGS), atol=1e-9)  # the reference outside the answer
    assert sys.getprofile() is None


def test_builtins_are_watched_too():
    def delegates(q, k, v):
        return F.scaled_dot_product_attention(q, k, v)

    q = torch.randn(1, 3, 4)
    with pytest.raises(check.Delegated, match="scaled_dot_product_attention"):
        with check.own_work(delegates, forbidden=[F.scaled_dot_product_attention]):
            delegates(q, q, q)
    with check.own_work(answers.attention, forbidden=[F.scaled_dot_product_attention]):
        check.close(answers.attention(q, q, q)[0], F.scaled_dot_product_attention(q, q, q))


def test_a_class_is_watched_through_its_forward():
    layer = torch.nn.MultiheadAttention(4, 2, bias=False, batch_first=True)

    def delegates(x):
        return layer(x, x, x)[0]

    with pytest.raises(check.Delegated, match="MultiheadAttention"):
        with check.own_work(delegates, forbidden=[torch.nn.MultiheadAttention]):
            delegates(torch.randn(1, 3, 4))


def test_the_watch_ends_with_the_block_even_when_it_raises():
    with pytest.raises(ZeroDivisionError):
        with check.own_work(honest, forbidden=RIDGE):
            1 / 0
    assert sys.getprofile() is None
    assert direct(*ARGS).shape == (8,)  # no watch left behind


def test_an_answer_that_is_not_a_function_is_refused():
    with pytest.raises(check.CheckFailed, match="a function written with def"):
        with check.own_work(42, forbidden=RIDGE):
            pass


def test_replaced_puts_stand_ins_in_and_restores_the_names():
    namespace = {"attention": "mine"}
    with check.replaced(namespace, attention=answers.attention, causal_mask=answers.causal_mask):
        assert namespace["attention"] is answers.attention and namespace["causal_mask"] is answers.causal_mask
    assert namespace == {"attention": "mine"}


def test_the_stand_in_answers_match_torch():
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    mask = answers.causal_mask(5)
    output, pattern = answers.attention(q, k, v, mask)
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    torch.testing.assert_close(pattern.sum(-1), torch.ones(2, 3, 5))
    x = torch.randn(2, 5, 12)
    torch.testing.assert_close(answers.merge_heads(answers.split_heads(x, 3)), x)
    torch.testing.assert_close(answers.split_heads(x, 3)[:, 1], x[..., 4:8])
    templates = torch.tensor([[7, 7, 9, 9], [7, 9, 7, 9], [7, 9, 9, 7]])
    assert answers.template_index(templates).tolist() == [0, 1, 2]
    assert answers.threshold_depth({3: 0.99, 1: 0.2, 2: 0.95}, 0.9) == 2
    assert answers.threshold_depth({1: 0.2}, 0.9) is None


def test_the_stand_in_copy_layer_copies_the_previous_token():
    from attnlab.circuits import blank_model, residual_layout
    from attnlab.tasks import depth as depth_tasks

    task = depth_tasks.InContextQA()
    V, T = task.vocab_size, task.seq_len
    layout = residual_layout(token=V, position=T, previous=V, out=V, parity=1)
    model = answers.copy_previous_token(blank_model(V, T, V, layout), layout, sharp=30 * 7)
    prompts, _ = task.sample(64, torch.Generator().manual_seed(0))
    _, cache = model.run_with_cache(prompts)
    assert torch.equal(cache["resid"][1][:, 1:, layout["previous"]].argmax(-1), prompts[:, :-1])


def test_the_stand_ins_for_demos_match_independent_references():
    from attnlab import baselines
    from attnlab.tasks.regression import sample_prompts

    x, w_qkv, w_out = torch.randn(2, 5, 12), torch.randn(36, 12), torch.randn(12, 12)
    output, pattern = answers.multi_head_attention(x, w_qkv, w_out, heads=3)
    mask = torch.ones(5, 5, dtype=torch.bool).triu(1)  # torch's convention: True where a key is hidden
    reference, weights = F.multi_head_attention_forward(
        x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), 12, 3, w_qkv, None, None, None, False, 0.0, w_out,
        None, training=False, need_weights=True, attn_mask=mask, average_attn_weights=False)
    torch.testing.assert_close(output, reference.transpose(0, 1))
    torch.testing.assert_close(pattern, weights)
    p = sample_prompts(16, d=6, s=2, n=3, sigma=0.1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = torch.zeros(16, 6, dtype=torch.float64)
    for _ in range(4):  # fixed-step gradient descent on (1/2n)|Xw - y|^2, written out
        w = w - 0.1 * torch.einsum("bnd,bn->bd", p.X, torch.einsum("bnd,bd->bn", p.X, w) - p.y) / 3
    torch.testing.assert_close(answers.gd(p.X, p.y, p.x_query, 4, 0.1), (w * p.x_query).sum(1))
    gram = p.X.transpose(1, 2) @ p.X + 0.5 * torch.eye(6, dtype=torch.float64)
    w_ridge = torch.linalg.solve(gram, p.X.transpose(1, 2) @ p.y[..., None])[..., 0]
    torch.testing.assert_close(answers.ridge(p.X, p.y, p.x_query, 0.5), (w_ridge * p.x_query).sum(1))
    importance = torch.tensor([[0.1, 0.3], [0.5, 0.2], [-0.1, 0.4]])
    assert answers.pruned_mask(importance).tolist() == [[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    torch.testing.assert_close(answers.preprocess_gd(p.X, p.y, p.x_query, 3, 0.5, 1.0),
                               baselines.preprocess_gd(p.X, p.y, p.x_query, 3, 0.5, 1.0))


def test_a_demo_runs_the_students_answer_or_else_the_courses_and_says_so(capsys):
    def causal_mask(T):
        raise NotImplementedError()

    stand_in = answers.yours_or_course(causal_mask)
    assert stand_in(3).tolist() == answers.causal_mask(3).tolist() and stand_in(2).shape == (2, 2)
    told = capsys.readouterr().out
    assert told.count("\n") == 1 and "Your causal_mask raised NotImplementedError" in told  # said once

    def split_heads(x, heads):
        return "mine"

    assert answers.yours_or_course(split_heads)(torch.zeros(1, 2, 4), 2) == "mine" and capsys.readouterr().out == ""

    def no_such_exercise():
        pass

    with pytest.raises(ValueError, match="no answer named 'no_such_exercise'"):
        answers.yours_or_course(no_such_exercise)
