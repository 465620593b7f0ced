"""Submissions that attack the grading, graded by plain `nbgrader autograde` with the course's config, on
part0_foundations (the quickest assignment).

Each hostile student hands in the solution with one answer cell replaced by an attack, so that the attacked exercise
deserves 0 and every other exercise its full points. The attacks: a result displayed before a failing test's error
(nbgrader takes the first result, not the error), reading the solutions, writing the course and the gradebook, the
network and the grader's environment (the sandbox), killing nbgrader, leaving the kernel, hanging deaf to interrupts.
A student whose kernel is gone is not graded (and says so in nbgrader's log); the students graded before and after
them in the same run get their full, correct scores. The review list flags every attack, never the solution.
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
from attnlab.grading import preprocessors, review, sandbox
from attnlab.grading.kernel_launcher import python_paths
from course import is_test, nbgrader, nbgrader_meta, scratch_course, start_nbgrader
from test_grading import full_marks, is_answer

ASSIGNMENT, NOTEBOOK = "part0_foundations", "01_attention_from_scratch"
# Short, so that the hang costs little; the slowest cell of the notebook fits in it with room to spare.
TIMEOUT = "--Execute.timeout=30"
SECRET = "hub-token-the-kernel-must-not-see"

def points_after(nb, grade_id):
    """Points of the tests between answer `grade_id` and the next answer: what breaking that answer costs."""
    cells, start = nb.cells, next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id)
    end = next((i for i in range(start + 1, len(cells)) if is_answer(cells[i])), len(cells))
    return sum(nbgrader_meta(c)["points"] for c in cells[start + 1:end] if is_test(c))


def attacking(grade_id, attack):
    """The solution with answer `grade_id` replaced by `attack` (a function of the course root, for paths)."""
    def make(solution, course):
        nb = copy.deepcopy(solution)
        (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id]
        cell.source = attack(course)
        return nb, sum(nbgrader_meta(c)["points"] for c in nb.cells if is_test(c)) - points_after(solution, grade_id)
    return make


def honest(solution, course):
    return full_marks(solution, None, True)


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


STUDENTS = {  # graded in this order (nbgrader's, by name): a bystander first and last
    "aaron_first": honest,
    "kim_result_before_error": attacking("causal-answer", lambda course: RESULT_BEFORE_ERROR),
    "omar_breaks_out": attacking("attention-answer", breaking_out),
    "pat_kills_nbgrader": attacking("causal-answer", lambda course: "import os, signal\n"
                                                                    "os.kill(os.getppid(), signal.SIGKILL)"),
    "quinn_leaves_the_kernel": attacking("causal-answer", lambda course: "import os\nos._exit(0)"),
    "rita_hangs_deaf_to_interrupts": attacking("causal-answer", lambda course: (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)")),
    "zoe_last": honest,
}
NOT_GRADED = {"quinn_leaves_the_kernel", "rita_hangs_deaf_to_interrupts"}


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


def test_every_graded_submission_scores_exactly_its_own_work(graded):
    course = graded["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        got = {student: gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student).score
               for student in STUDENTS if student not in NOT_GRADED}
    assert got == {student: score for student, score in graded["expected"].items() if student not in NOT_GRADED}


def test_a_kernel_that_is_gone_costs_only_its_student(graded):
    course, log = graded["course"], graded["log"]
    assert graded["code"] == 1, log[-3000:]  # nbgrader reports the failures...
    for student in NOT_GRADED:  # ...names each, and keeps no half-graded notebook
        assert f"There was an error processing assignment '{ASSIGNMENT}' for student '{student}'" in log
        assert not (course / "autograded" / student / ASSIGNMENT).exists()
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
    (printed,) = [o.text for o in cell_outputs(course, "omar_breaks_out", "attention-answer")
                  if o.output_type == "stream" and "ATTEMPTS" in o.text]
    attempts = json.loads(printed.split("ATTEMPTS", 1)[1])
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
    assert "Review: 5 submissions have code a person should look at" in capsys.readouterr().out


def test_without_a_sandbox_grading_says_so_once_and_goes_on(monkeypatch, caplog):
    monkeypatch.setenv("PATH", "/nonexistent")
    sandbox.problem.cache_clear()
    try:
        assert sandbox.problem() == "bubblewrap (bwrap) is not installed"
        monkeypatch.setattr(preprocessors, "_said", set())
        with caplog.at_level("WARNING"):
            executes = [preprocessors.SandboxedExecute() for _ in range(2)]
    finally:
        sandbox.problem.cache_clear()
    assert all(e.kernel_manager_class is AsyncKernelManager for e in executes)  # nbgrader's own
    warnings = [r.getMessage() for r in caplog.records if "WITHOUT a sandbox" in r.getMessage()]
    assert warnings == ["Student code runs WITHOUT a sandbox, with the grader's rights: bubblewrap (bwrap) is not "
                        "installed"]


def test_the_kernel_never_sees_a_folder_that_holds_its_notebook(tmp_path, monkeypatch):
    """A PYTHONPATH of the course root (or above) would show the kernel the solutions and the gradebook."""
    course = tmp_path / "course"
    workdir = course / "autograded" / "s" / ASSIGNMENT
    workdir.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", ["the launcher's own folder", str(course), str(tmp_path), *sys.path[1:]])
    paths = python_paths(workdir)
    assert str(course) not in paths and str(tmp_path) not in paths and str(Path(grading.__file__).parents[2]) in paths
