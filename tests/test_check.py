"""The checks behind the graded exercises: the delegation watch and the stand-in answers."""
import concurrent.futures
import ctypes
import inspect
import math
import os
import queue
import subprocess
import sys
import textwrap
import threading

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


def in_a_thread(X, y, x_query, lam):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the watch sees one thread
        return pool.submit(baselines.ridge, X, y, x_query, lam).result()


def in_a_process(X, y, x_query, lam):
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # (a real one would send the prompts over)
    return honest(X, y, x_query, lam)


def in_a_process_started_from_c_code(X, y, x_query, lam):
    list(map(os.system, ["true"]))  # called from C (map), so the profile hook sees no call: the audit hook does
    return honest(X, y, x_query, lam)


# The library's ridge_weights compiled again from its source, in its module's globals: the same bytecode under
# another name.
copied = {}
exec(textwrap.dedent(inspect.getsource(baselines.ridge_weights)).replace("def ridge_weights(", "def my_weights("),
     vars(baselines).copy(), copied)
my_weights = copied["my_weights"]


def through_a_copy(X, y, x_query, lam):
    return (my_weights(X, y, lam) * x_query).sum(-1)


RIDGE = (baselines.ridge, baselines.ridge_weights)


@pytest.mark.parametrize("answer", [direct, aliased, inner_import, other_path, through_a_helper, switches_off,
                                    in_a_thread, in_a_process, in_a_process_started_from_c_code, through_a_copy])
def test_a_delegating_answer_is_caught_whatever_the_route(answer):
    route = "calls (attnlab.baselines.ridge|.*another (thread|process))|switch"
    with pytest.raises(check.Delegated, match=f"{answer.__name__} .*({route})"):
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


def aten_attention(q, k, v):
    return torch.ops.aten.scaled_dot_product_attention(q, k, v)


def math_attention(q, k, v):
    return torch.ops.aten._scaled_dot_product_attention_math.default(q, k, v)[0]  # and its pattern, [1]


def native_attention(q, k, v):
    return torch._native_multi_head_attention(q, k, v, 4, 1, torch.eye(4).repeat(3, 1), torch.zeros(12), torch.eye(4),
                                              torch.zeros(4), need_weights=False)[0]


@pytest.mark.parametrize("answer, forbidden", [(aten_attention, F.scaled_dot_product_attention),
                                               (math_attention, F.scaled_dot_product_attention),
                                               (native_attention, F.multi_head_attention_forward)])
def test_torch_s_lower_level_operators_do_the_same_job_and_are_watched_too(answer, forbidden):
    q = torch.randn(1, 3, 4)
    answer(q, q, q)  # they run
    with pytest.raises(check.Delegated, match=f"{answer.__name__} calls torch's operator"):
        with check.own_work(answer, forbidden=[forbidden]):
            answer(q, q, q)
    with check.own_work(answers.attention, forbidden=[forbidden]):  # the building blocks are not watched
        answers.attention(q, q, q)


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
    abab, even = torch.tensor([[5, 9, 5, 9, 80]]), torch.ones(5, 5).tril()
    # Even attention on ABAB, by hand: x3 sees one A of its own and one B, x4 one B of its own and two A's.
    same, other = answers.parse_weights((even / even.sum(1, keepdim=True))[None], abab)
    assert abs(same - (1 / 3 + 1 / 4) / 3) < 1e-6 and abs(other - (1 / 2 + 1 / 3 + 1 / 2) / 3) < 1e-6


def test_the_stand_in_renaming_and_first_example_rule_agree_with_a_reading_by_hand():
    from attnlab import depth
    task = depth.make_task("in_context_template")
    prompts, _ = task.sample(200, torch.Generator().manual_seed(0), "test")
    by_hand = []
    for prompt in prompts.tolist():  # where each sequence's first token repeats (1, 2, 3) names its template
        first, query = prompt[:4].index(prompt[0], 1), prompt[-4:].index(prompt[-4], 1)
        by_hand.append(prompt[4] - task.label_offset if first == query else query - 1)
    assert answers.first_example_rule(task, prompts).tolist() == by_hand

    def first_label(x):  # follows any renaming of the labels; a constant answer follows none
        return torch.nn.functional.one_hot(x[:, 4] - task.label_offset, 3).float()[:, None].expand(-1, x.shape[1], -1)
    assert answers.follows_renaming(first_label, task, prompts) == 1.0
    assert answers.follows_renaming(lambda x: torch.ones(len(x), x.shape[1], 3), task, prompts) == 0.0


def test_the_stand_in_label_probes_are_exact_on_predictors_of_known_form():
    from attnlab import baselines
    from attnlab.tasks.regression import sample_prompts
    p = sample_prompts(300, d=4, s=1, n=4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ridge = lambda q: baselines.ridge(q.X, q.y, q.x_query, 0.1)  # noqa: E731  linear in the labels
    squares = lambda q: (q.y ** 2).sum(1)  # noqa: E731  f(y + y') - f(y) - f(y') = 2 <y, y'>
    assert answers.additivity_gap(ridge, p) < 1e-12
    rolled = p.y.roll(1, dims=0)
    expected = (2 * (p.y * rolled).sum(1)).abs().mean() / ((p.y + rolled) ** 2).sum(1).mean()
    assert abs(answers.additivity_gap(squares, p) - expected.item()) < 1e-12
    assert abs(answers.shrinkage_ratio(ridge, p, 0.1) - 1) < 1e-12
    assert abs(answers.shrinkage_ratio(lambda q: (q.y ** 3).sum(1), p, 0.5) - 0.25) < 1e-12  # c ** 3 / c


def test_the_stand_in_knockouts_equal_a_model_with_the_layer_s_output_weights_zeroed():
    import copy

    from attnlab import depth
    task = depth.make_task("icqa")
    model = depth.make_model("icqa", 3)
    prompts, labels = task.sample(300, torch.Generator().manual_seed(0), "test")
    expected = []
    for layer in range(3):  # a layer without output weights adds nothing to the residual stream: switched off
        cut = copy.deepcopy(model)
        torch.nn.init.zeros_(cut.blocks[layer].attn.out.weight)
        with torch.no_grad():
            expected.append(task.metric(cut(prompts), labels))
    assert answers.knockout_accuracies(model, task, prompts, labels) == expected
    assert [answers.accuracy_without(model, prompts, labels, k) for k in (1, 2, 3)] == expected
    with torch.no_grad():
        full = task.metric(model(prompts), labels)
    assert answers.essential_layers(model, task, prompts, labels) == \
        [k + 1 for k in range(3) if full - expected[k] >= (full - task.chance) / 2]


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
    from attnlab.tasks.regression import encode, sample_prompts

    # float64: in float32, one entry in a hundred differed by a little more than assert_close allows
    x, w_qkv, w_out = (torch.randn(*shape, dtype=torch.float64) for shape in ((2, 5, 12), (36, 12), (12, 12)))
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
    W_Q, W_K, W_V = answers.gd_step_head(6, 0.3)  # one linear head, at the query: one gd step of 0.3
    tokens = encode(p, "joint").float()
    scores = (tokens[:, -1] @ W_Q.T)[:, None, :].mul(tokens[:, :-1] @ W_K.T).sum(-1)
    head = (scores[..., None] * (tokens[:, :-1] @ W_V.T)).mean(1)
    torch.testing.assert_close(head[:, 6].double(), answers.gd(p.X, p.y, p.x_query, 1, 0.3), atol=1e-5, rtol=1e-5)
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


def test_the_library_compiled_again_is_the_library():
    with pytest.raises(check.Delegated, match="is attnlab.baselines.ridge_weights itself"):
        with check.own_work(my_weights, forbidden=RIDGE):
            raise AssertionError("the block must not run")


def test_a_few_lines_an_honest_student_writes_the_same_way_are_not_a_copy():
    def attention(q, k, v, mask=None):
        """The course's answer, word for word (as the notebook's hints lead a student to write it)."""
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        pattern = scores.softmax(dim=-1)
        return pattern @ v, pattern

    q = torch.randn(1, 3, 4)
    with check.own_work(attention, forbidden=[answers.attention]):
        check.close(attention(q, q, q)[0], answers.attention(q, q, q)[0])


def test_an_answer_may_not_run_beside_a_thread_of_the_notebook_s_code():
    requests, results = queue.Queue(), queue.Queue()

    def worker():  # started before the check: the watch never sees its calls
        while (job := requests.get()) is not None:
            results.put(baselines.ridge(*job))

    def hands_over(X, y, x_query, lam):
        requests.put((X, y, x_query, lam))
        return results.get()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        with pytest.raises(check.Delegated, match="a thread started by your notebook's code"):
            with check.own_work(hands_over, forbidden=RIDGE):
                hands_over(*ARGS)
    finally:
        requests.put(None)
        thread.join()
    with check.own_work(honest, forbidden=RIDGE):  # the thread gone, answers are checked as before
        honest(*ARGS)


def test_processes_and_c_code_outside_the_answers_are_the_check_s_own_business():
    with check.own_work(honest, forbidden=RIDGE):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        ctypes.CDLL(None).getpid()
        honest(*ARGS)
