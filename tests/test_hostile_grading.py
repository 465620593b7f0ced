"""Submissions that attack the grading, graded by plain `nbgrader autograde` with the course's config, on
part0_foundations (the quickest assignment).

Each hostile student hands in the solution with one answer cell replaced by an attack, so that the attacked exercise
deserves 0 and every other exercise its full points, test cell by test cell. The attacks: a result displayed before
a failing test's error (nbgrader takes the first result, not the error), reading the solutions, writing the course
and the gradebook, the network and the grader's environment (the sandbox), killing nbgrader, leaving the kernel,
hanging deaf to interrupts; and changing what the tests run with, from the answer cell (the clean room): patching the
checker, rebinding the course's reference that a test computes its expectation with, an IPython input transformer
that empties a later test cell, a post_run_cell hook, a patched module served through sys.modules. An honest student
whose answers hold what the clean room leaves out keeps full marks.
A student whose kernel is gone, in either run, is not graded (and says so in nbgrader's log); the students graded
before and after them in the same run get their full, correct scores. The review list flags every attack, never the solution.
"""
import copy
import csv
import json
import os
import socket
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from jupyter_client.manager import AsyncKernelManager

from attnlab import grading
from attnlab.grading import clean_room, preprocessors, review, sandbox
from attnlab.grading.kernel_launcher import python_paths
from course import (ROOT, SOLUTIONS, is_test, nbgrader, nbgrader_meta, notebooks, printed, scratch_course,
                    start_nbgrader)
from test_grading import is_answer

ASSIGNMENT, NOTEBOOK = "part0_foundations", "01_attention_from_scratch"
# Short, so that the hang costs little; the slowest cell of the notebook fits in it with room to spare.
TIMEOUT = "--Execute.timeout=30"
SECRET = "hub-token-the-kernel-must-not-see"

def exercise_tests(nb, grade_id):
    """The grade_ids of the tests between answer `grade_id` and the next answer: what breaking that answer costs."""
    cells, start = nb.cells, next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id)
    end = next((i for i in range(start + 1, len(cells)) if is_answer(cells[i])), len(cells))
    return {nbgrader_meta(c)["grade_id"] for c in cells[start + 1:end] if is_test(c)}


def fair_scores(nb, attacked=None):
    """Each test's fair score, by grade_id: its points, or 0 for the tests of the attacked answer."""
    broken = exercise_tests(nb, attacked) if attacked else set()
    return {nbgrader_meta(c)["grade_id"]: 0 if nbgrader_meta(c)["grade_id"] in broken else nbgrader_meta(c)["points"]
            for c in nb.cells if is_test(c)}


def attacking(grade_id, attack):
    """The solution with answer `grade_id` replaced by `attack` (a function of the course root, for paths)."""
    def make(solution, course):
        nb = copy.deepcopy(solution)
        (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id]
        cell.source = attack(course)
        return nb, fair_scores(solution, grade_id)
    return make


def honest(solution, course):
    return copy.deepcopy(solution), fair_scores(solution)


def honest_with_extras(solution, course):
    """The solution with what an honest student adds and the clean room leaves out (a call made to see its result, a
    del): the clean room runs for it, and must cost it nothing."""
    nb, scores = honest(solution, course)
    extras = {"causal-answer": "causal_mask(3).int()\n", "read-answer": "scratch = pattern[-1].tolist()\ndel scratch\n"}
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") in extras:
            cell.source += "\n" + extras[nbgrader_meta(cell)["grade_id"]]
    return nb, scores


# Every later cell starts with a result that is not a number: nbgrader took the first result it saw as the score.
RESULT_BEFORE_ERROR = """
get_ipython().events.register("pre_run_cell", lambda *args: get_ipython().displayhook("all good"))

def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool)  # wrong: every key, not only the earlier ones
"""


def breaking_out(course):
    """Try the grader's files, the network and the environment, print what happened, then take the answer from the
    solutions: it earns points only if the sandbox let it read them."""
    return f"""import json, os, socket, sqlite3
attempts = {{}}

def attempt(name, action):
    try:
        action()
        attempts[name] = "done"
    except Exception as error:
        attempts[name] = type(error).__name__

attempt("write the course", lambda: open({str(course / "planted.txt")!r}, "w").write("planted"))
attempt("write the gradebook", lambda: sqlite3.connect({str(course / "gradebook.db")!r}).execute(
    "UPDATE grade SET auto_score = 99").connection.commit())
attempt("read a classmate", lambda: open({str(course / "submitted" / "aaron_first" / ASSIGNMENT)!r}
                                         + "/{NOTEBOOK}.ipynb").read())
attempt("network", lambda: socket.create_connection(("127.0.0.1", {(course / "port").read_text()}), timeout=5))
attempt("environment", lambda: os.environ["JUPYTERHUB_API_TOKEN"])
print("ATTEMPTS", json.dumps(attempts))
solution = json.load(open({str(course / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")!r}))
exec("".join(next(c["source"] for c in solution["cells"]
                  if c["metadata"].get("nbgrader", {{}}).get("grade_id") == "attention-answer")))
"""


# The attacks on what the tests run with: each fools the normal pass (the clean room's record says so), not the clean
# room. Wrong: every key, not only the earlier ones; the checker, its reload and the hidden test's comparison patched.
PATCHES_THE_CHECKER = """
import importlib
from attnlab import check

check.close = check.equal = lambda *args, **kwargs: None
importlib.reload = lambda module: module
torch.equal = lambda *args: True

def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool)
"""
# Wrong: never causal; the course's causal_mask, which the test's expectation is masked with, made to agree.
REBINDS_THE_REFERENCE = """
from attnlab import answers

answers.causal_mask = lambda T: torch.ones(T, T, dtype=torch.bool)

def multi_head_attention(x, w_qkv, w_out, heads, causal=True):
    C = x.shape[-1]
    q, k, v = (x @ w_qkv.T).split(C, dim=-1)
    q, k, v = (split_heads(t, heads) for t in (q, k, v))
    z, pattern = attention(q, k, v)
    return merge_heads(z) @ w_out.T, pattern
"""
# Wrong: no positional embeddings; the test cell (the one that lists WHOLE) rewritten to nothing before it runs.
REWRITES_LATER_CELLS = """
def silence_the_test(lines):
    return [] if any(line.startswith("WHOLE = ") for line in lines) else lines

get_ipython().input_transformers_post.append(silence_the_test)

def transformer_forward(model, tokens):
    stream = model.embed(tokens)
    for block in model.blocks:
        stream = stream + block.attn(block.norm_attn(stream))
    return model.unembed(model.norm_final(stream))
"""
# Wrong: position 3, equal to anything; after every cell a hook switches off the checks that would see it.
HOOKS_EVERY_CELL = """
from attnlab import check

class Position(int):
    __eq__ = lambda self, other: True

def switch_checks_off(result):
    check.equal = check.close = check.shape = lambda *args, **kwargs: None

get_ipython().events.register("post_run_cell", switch_checks_off)
most_attended = Position(3)
"""
# Not the student's work: the course's own answers; the delegation watch switched off, and the tests' reload of the
# checker made a no-op by a patched importlib served through sys.modules.
SERVES_A_PATCHED_MODULE = """
import contextlib, sys, types
from attnlab import answers, check

def split_heads(x, heads):
    return answers.split_heads(x, heads)

def merge_heads(x):
    return answers.merge_heads(x)

check.own_work = lambda *functions, forbidden: contextlib.nullcontext()
patched = types.ModuleType("importlib")
patched.reload = lambda module: module
patched.__getattr__ = lambda name, real=sys.modules["importlib"]: getattr(real, name)
sys.modules["importlib"] = patched
"""
# Correct, but the kernel leaves where the answer's mark on the checker is missing: only in the clean room.
DIES_IN_THE_CLEAN_ROOM = """
import os

check.graded_normally = True

def causal_mask(T):
    if not hasattr(check, "graded_normally"):
        os._exit(0)
    return torch.ones(T, T, dtype=torch.bool).tril()
"""

# Right, but the output is the fused kernel's, computed in a worker thread where the watch is not looking.
DELEGATES_IN_A_THREAD = """
import concurrent.futures
import torch.nn.functional as F

def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        output = pool.submit(F.scaled_dot_product_attention, q, k, v, attn_mask=mask).result()
    return output, scores.softmax(dim=-1)
"""
# Not the student's work: the library's own forward pass compiled again from its source, under another name (kept by
# the clean room too: assignments to names).
COPIES_THE_LIBRARY = """
import inspect, textwrap
import attnlab.model

namespace = dict(vars(attnlab.model))
_ = exec(textwrap.dedent(inspect.getsource(attnlab.model.Transformer._run)), namespace)
run_a_model = namespace["_run"]

def transformer_forward(model, tokens):
    return run_a_model(model, tokens, None, None)
"""

# Right, but torch's own attention, reached as a lower-level operator (it returns the pattern too).
CALLS_A_LOWER_LEVEL_OPERATOR = """
def attention(q, k, v, mask=None):
    bias = None if mask is None else torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    return torch.ops.aten._scaled_dot_product_attention_math(q, k, v, attn_mask=bias)
"""

STUDENTS = {  # graded in this order (nbgrader's, by name): a bystander first and last
    "aaron_first": honest,
    "bea_patches_the_checker": attacking("causal-answer", lambda course: PATCHES_THE_CHECKER),
    "cal_rebinds_the_reference": attacking("mha-answer", lambda course: REBINDS_THE_REFERENCE),
    "dan_rewrites_later_cells": attacking("forward-answer", lambda course: REWRITES_LATER_CELLS),
    "eve_hooks_every_cell": attacking("read-answer", lambda course: HOOKS_EVERY_CELL),
    "fay_serves_a_patched_module": attacking("heads-answer", lambda course: SERVES_A_PATCHED_MODULE),
    "gus_delegates_in_a_thread": attacking("attention-answer", lambda course: DELEGATES_IN_A_THREAD),
    "hal_honest_with_extras": honest_with_extras,
    "ian_dies_in_the_clean_room": attacking("causal-answer", lambda course: DIES_IN_THE_CLEAN_ROOM),
    "jon_copies_the_library": attacking("forward-answer", lambda course: COPIES_THE_LIBRARY),
    "kim_result_before_error": attacking("causal-answer", lambda course: RESULT_BEFORE_ERROR),
    "lea_calls_a_lower_level_operator": attacking("attention-answer", lambda course: CALLS_A_LOWER_LEVEL_OPERATOR),
    "omar_breaks_out": attacking("attention-answer", breaking_out),
    "pat_kills_nbgrader": attacking("causal-answer", lambda course: "import os, signal\n"
                                                                    "os.kill(os.getppid(), signal.SIGKILL)"),
    "quinn_leaves_the_kernel": attacking("causal-answer", lambda course: "import os\nos._exit(0)"),
    "rita_hangs_deaf_to_interrupts": attacking("causal-answer", lambda course: (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)")),
    "zoe_last": honest,
}
NOT_GRADED = {"quinn_leaves_the_kernel", "rita_hangs_deaf_to_interrupts", "ian_dies_in_the_clean_room"}
# The attacked test that the normal pass was fooled into passing, and the clean room was not.
CAUGHT_BY_THE_CLEAN_ROOM = {"bea_patches_the_checker": "causal-tests", "cal_rebinds_the_reference": "mha-tests",
                            "dan_rewrites_later_cells": "forward-tests", "eve_hooks_every_cell": "read-tests",
                            "fay_serves_a_patched_module": "heads-tests"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if sandbox.problem():
        pytest.skip(f"this machine cannot sandbox student code: {sandbox.problem()}")
    course = scratch_course(tmp_path_factory.mktemp("hostile"))
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    solution = nbformat.read(course / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    expected = {}
    with closing(socket.create_server(("127.0.0.1", 0))) as listener:  # where omar's kernel tries to connect
        listener.setblocking(False)
        (course / "port").write_text(str(listener.getsockname()[1]))
        for student, make in STUDENTS.items():
            nb, expected[student] = make(solution, course)
            folder = course / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{NOTEBOOK}.ipynb")
        os.environ["JUPYTERHUB_API_TOKEN"] = SECRET  # as in a hub's formgrader
        try:
            process, log = start_nbgrader(course, "autograde", ASSIGNMENT, TIMEOUT)
        finally:
            del os.environ["JUPYTERHUB_API_TOKEN"]
        try:
            process.wait(timeout=900)
        finally:
            if process.poll() is None:
                process.kill()
        log.seek(0)
        try:
            listener.accept()
            reached = True
        except BlockingIOError:
            reached = False
    return dict(course=course, expected=expected, log=log.read(), code=process.returncode, reached=reached)


def test_every_graded_submission_scores_exactly_its_own_work_test_by_test(graded):
    course = graded["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        got = {student: {grade_id: gradebook.find_grade(grade_id, NOTEBOOK, ASSIGNMENT, student).score
                         for grade_id in graded["expected"][student]}
               for student in STUDENTS if student not in NOT_GRADED}
    assert got == {student: scores for student, scores in graded["expected"].items() if student not in NOT_GRADED}


def clean_room_records(course, student):
    """grade_id -> what the clean room recorded, for the tests of `student` that scored lower there."""
    nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    return {nbgrader_meta(c)["grade_id"]: c.metadata["attnlab"]["clean_room"] for c in nb.cells
            if "clean_room" in c.metadata.get("attnlab", {})}


def test_the_clean_room_catches_what_fooled_the_normal_pass_and_says_why(graded):
    course = graded["course"]
    for student in set(STUDENTS) - NOT_GRADED:
        records = clean_room_records(course, student)
        if student not in CAUGHT_BY_THE_CLEAN_ROOM:
            assert records == {}, student  # honest work, and the attacks the normal pass already scores 0
            continue
        (grade_id, record), = records.items()
        assert grade_id == CAUGHT_BY_THE_CLEAN_ROOM[student] and record["score"] == 0, (student, records)
        assert "in the clean room, where it raised" in record["reason"], record
        (shown,) = [o.text for o in cell_outputs(course, student, grade_id) if "Clean room:" in o.get("text", "")]
        assert record["reason"] in shown  # the student sees it in the feedback


@pytest.mark.parametrize("path", notebooks(SOLUTIONS), ids=lambda path: path.stem)
def test_the_clean_room_keeps_every_solution_whole(path):
    """So an honest class runs each notebook once, and keeps its scores (every cell that is not an answer is locked:
    a plot in a cell the student could edit would count as the student's, and be left out)."""
    assert clean_room.build(nbformat.read(path, 4)).left_out == []


# One answer statement at a time, in the read-answer cell: whether the clean room keeps it.
KEPT = ["most_attended = int(pattern[-1].argmax())",  # what the tests read
        "best = {}\nfor layer in range(3):\n    best[layer] = layer",  # a dict the answer builds in a loop
        "found = []\nfound.append(3)",
        "import torch\nimport attnlab.baselines",  # the installed packages themselves
        "class Position(int):\n    __eq__ = lambda self, other: True",  # a class body's names are the class's
        "@torch.no_grad()\ndef f(x):\n    return x",
        "with torch.no_grad():\n    y = torch.ones(2)",
        "values, order = torch.randn(3).sort()",
        "raise NotImplementedError()",  # an untouched stub stops the cell in both runs
        "print(pattern)"]
LEFT_OUT = ["check.close = lambda *args, **kwargs: None", "F.scaled_dot_product_attention = None",
            "import sys\nsys.modules['attnlab.check'] = None", "get_ipython().events.register('post_run_cell', print)",
            "%time x = 1", "del pattern", "globals()['check'] = None", "exec('check.close = None')",
            "check = None", "from attnlab import answers", "from attnlab.answers import *",
            "isinstance = lambda *args: True", "__builtins__ = {}", "y = (check := None)",
            "x = check._UNWATCH.clear()", "x = getattr(check, '__dict__')", "import importlib",
            "from unittest import mock", "def g(x=setattr(check, 'close', None)):\n    pass", "torch.manual_seed(0)",
            "n = 0\nwhile n < 3:\n    torch.manual_seed(n)\n    n += 1",  # the loop might never end without its body
            "for T in range(3):\n    check.close = None"]


@pytest.mark.parametrize("source", KEPT + LEFT_OUT)
def test_the_clean_room_judges_each_statement(source):
    solution = nbformat.read(SOLUTIONS / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    (cell,) = [c for c in solution.cells if nbgrader_meta(c).get("grade_id") == "read-answer"]
    cell.source = source
    assert (clean_room.build(solution).left_out == []) == (source in KEPT)


def test_the_clean_room_leaves_out_only_what_the_honest_extras_add():
    solution = nbformat.read(SOLUTIONS / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    extras, _ = honest_with_extras(solution, None)
    assert {(left.cell, left.code) for left in clean_room.build(extras).left_out} == {
        ("causal-answer", "causal_mask(3).int()"), ("read-answer", "del scratch")}


def test_a_kernel_that_is_gone_costs_only_its_student(graded):
    course, log = graded["course"], graded["log"]
    assert graded["code"] == 1, log[-3000:]  # nbgrader reports the failures...
    for student in NOT_GRADED:  # ...names each, and keeps no half-graded notebook
        assert f"There was an error processing assignment '{ASSIGNMENT}' for student '{student}'" in log
        assert not (course / "autograded" / student / ASSIGNMENT).exists()
    assert "CleanRoomFailed: the clean room's kernel failed" in log  # ian's: not the normal pass's scores
    for student in set(STUDENTS) - NOT_GRADED:
        assert (course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists(), student


def cell_outputs(course, student, grade_id):
    nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id]
    return cell.outputs


def test_a_result_before_an_error_scores_zero(graded):
    outputs = cell_outputs(graded["course"], "kim_result_before_error", "causal-tests")
    kinds = [output.output_type for output in outputs]
    assert kinds[0] == "execute_result" and "error" in kinds, kinds  # the trick was in place, and failed


def test_the_sandbox_holds(graded):
    course = graded["course"]
    output = printed(cell_outputs(course, "omar_breaks_out", "attention-answer"))
    attempts = json.loads(output.split("ATTEMPTS", 1)[1].splitlines()[0])
    assert set(attempts) == {"write the course", "write the gradebook", "read a classmate", "network", "environment"}
    assert "done" not in attempts.values(), attempts
    assert attempts["environment"] == "KeyError" and SECRET not in (
        course / "autograded" / "omar_breaks_out" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text()
    assert not graded["reached"], "the kernel reached the grader's network"
    assert not (course / "planted.txt").exists()
    with closing(sqlite3.connect(course / "gradebook.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM grade WHERE auto_score = 99").fetchone()[0] == 0


FLAGS = {  # what the review list must say of each attack, at least
    "kim_result_before_error": {"IPython's hooks"},
    "omar_breaks_out": {"network", "files", "code run from text"},
    "pat_kills_nbgrader": {"process control"},
    "quinn_leaves_the_kernel": {"process control"},
    "rita_hangs_deaf_to_interrupts": {"process control"},
    "bea_patches_the_checker": {"the import system", "rebinding a module's functions", review.CLEAN_ROOM},
    "cal_rebinds_the_reference": {"rebinding a module's functions", review.CLEAN_ROOM},
    "dan_rewrites_later_cells": {"IPython's hooks", review.CLEAN_ROOM},
    "eve_hooks_every_cell": {"IPython's hooks", "rebinding a module's functions", review.CLEAN_ROOM},
    "fay_serves_a_patched_module": {"sys and gc tricks", "rebinding a module's functions", review.CLEAN_ROOM},
    "ian_dies_in_the_clean_room": {"process control", "rebinding a module's functions"},
    "gus_delegates_in_a_thread": {"threads and processes"},
    "jon_copies_the_library": {"code run from text", "sys and gc tricks"},
}


def test_the_review_list_flags_every_attack_and_no_honest_work(graded, tmp_path, capsys):
    to = tmp_path / "review.csv"
    review.main([ASSIGNMENT, "--course", str(graded["course"]), "--to", str(to)])
    flags = {}
    for row in csv.DictReader(to.open()):
        flags.setdefault(row["student"], set()).add(row["flag"])
    assert set(flags) == set(FLAGS)  # not the honest students
    for student, expected in FLAGS.items():
        assert expected <= flags[student], student
    assert "Review: 13 submissions have code a person should look at" in capsys.readouterr().out


@pytest.fixture
def no_bubblewrap(monkeypatch):
    """A machine without bwrap: the sandbox's check asked afresh, and forgotten again after the test."""
    monkeypatch.setenv("PATH", "/nonexistent")
    sandbox.problem.cache_clear()
    yield
    sandbox.problem.cache_clear()


def test_without_a_sandbox_grading_says_so_once_and_goes_on(no_bubblewrap, monkeypatch, caplog):
    assert sandbox.problem() == "bubblewrap (bwrap) is not installed"
    monkeypatch.setattr(preprocessors, "_said", set())
    with caplog.at_level("WARNING"):
        executes = [preprocessors.SandboxedExecute() for _ in range(2)]
    assert all(e.kernel_manager_class is AsyncKernelManager for e in executes)  # nbgrader's own
    warnings = [r.getMessage() for r in caplog.records if "WITHOUT a sandbox" in r.getMessage()]
    assert warnings == ["Student code runs WITHOUT a sandbox, with the grader's rights: bubblewrap (bwrap) is not "
                        "installed"]


def test_where_the_sandbox_is_required_grading_without_it_is_refused(no_bubblewrap):
    """A hub sets require_sandbox: there, no kernel ever runs with the grader's rights."""
    with pytest.raises(RuntimeError, match=r"grading refused: .*\(bubblewrap \(bwrap\) is not installed\)"):
        preprocessors.SandboxedExecute(require_sandbox=True)
    hub_config = (ROOT / "hub" / "formgrader" / "nbgrader_config.py").read_text()
    assert "c.SandboxedExecute.require_sandbox = True" in hub_config


def test_the_kernel_never_sees_a_folder_that_holds_its_notebook(tmp_path, monkeypatch):
    """A PYTHONPATH of the course root (or above) would show the kernel the solutions and the gradebook."""
    course = tmp_path / "course"
    workdir = course / "autograded" / "s" / ASSIGNMENT
    workdir.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", ["the launcher's own folder", str(course), str(tmp_path), *sys.path[1:]])
    paths = python_paths(workdir)
    assert str(course) not in paths and str(tmp_path) not in paths and str(Path(grading.__file__).parents[2]) in paths
