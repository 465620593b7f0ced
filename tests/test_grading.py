"""The instructor's whole pipeline, with nbgrader's own commands, on a class of tricky submissions.

For every assignment (found under solutions/): generate the release, autograde a set of submissions in
one run, grade the written answers by hand (through nbgrader's gradebook, as its formgrader does), generate
feedback, export grades, and check each score exactly. The commands are the ones in the README's instructor
guide.
"""
import copy
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course import (SOLUTIONS, assignments, finish_nbgrader, is_test, is_written, nbgrader, nbgrader_meta, notebooks,
                    points, scratch_course, start_nbgrader)

# A student's infinite loop is stopped by nbgrader's cell timeout; the tests use a shorter one than the
# course's 120 s so that they stay fast (the slowest solution cell still fits in it).
TIMEOUT = "--Execute.timeout=60"


def is_answer(cell):
    return nbgrader_meta(cell).get("solution", False) and cell["cell_type"] == "code"


def answer_indices(nb):
    return [i for i, cell in enumerate(nb["cells"]) if is_answer(cell)]


def points_of_tests(nb, before=None, after=None):
    """Points of the test cells whose index lies in (after, before)."""
    return sum(nbgrader_meta(cell)["points"] for i, cell in enumerate(nb["cells"]) if is_test(cell)
               and (before is None or i < before) and (after is None or i > after))


def points_of_written(nb):
    """Points of the written answers: only a grader gives them."""
    return points(cell for cell in nb["cells"] if is_written(cell))


# Each student turns a (solution, release) pair of notebooks into a submission (None: not handed in), and knows the
# score autograding must give it; `first` says whether this is the assignment's first notebook. Exercises are answer
# cells followed by their test cells, so breaking the *last* answer costs exactly the tests after it, and filling in
# only the *first* answer earns exactly the tests before the second. Written answers (markdown) earn nothing from
# autograding, whatever a student makes of them: a student who copies the solution has the model answers in, and those
# wait for a grader.
def with_last_answer(source):
    def make(solution, release, first):
        nb = copy.deepcopy(solution)
        nb["cells"][answer_indices(nb)[-1]]["source"] = source
        return nb, points_of_tests(solution, before=answer_indices(solution)[-1])
    return make


def full_marks(solution, release, first):
    return copy.deepcopy(solution), points_of_tests(solution)


def untouched(solution, release, first):
    return copy.deepcopy(release), 0


def first_answer_only(solution, release, first):
    nb = copy.deepcopy(release)
    opening, *rest = answer_indices(solution)
    nb["cells"][opening]["source"] = solution["cells"][opening]["source"]
    return nb, points_of_tests(solution, before=rest[0] if rest else None)


def flood_then_correct(solution, release, first):
    nb = copy.deepcopy(solution)
    opening = answer_indices(nb)[0]
    nb["cells"][opening]["source"] = ("for line in range(100_000):\n    print('flood', line)\n"
                                      + nb["cells"][opening]["source"])
    return nb, points_of_tests(solution)


def tamper_with_tests(solution, release, first):
    """The release, with its test cells tampered with in turn: edited to `pass`, deleted, or stripped of their
    nbgrader metadata (and emptied); and each written answer dressed up as a test that passes, a code cell `pass`
    worth 100 points. nbgrader restores them all from the gradebook (the written answer to a markdown cell worth its
    own points, left to a grader): no free points."""
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        if is_written(cell):
            cell.update(cell_type="code", source="pass", outputs=[], execution_count=None)
            cell["metadata"]["nbgrader"]["points"] = 100
    tests = [cell for cell in nb["cells"] if is_test(cell)]
    for cell in tests[0::3] + tests[2::3]:
        cell["source"] = "pass"
    for cell in tests[2::3]:
        cell["metadata"] = {}
    deleted = {id(cell) for cell in tests[1::3]}
    nb["cells"] = [cell for cell in nb["cells"] if id(cell) not in deleted]
    return nb, 0


def correct_but_delete_tests(solution, release, first):
    """Correct, with every test cell and every written answer deleted: nbgrader puts them all back (each answer
    after the graded cell before it, with nbgrader's notice in it, for a grader)."""
    nb = copy.deepcopy(solution)
    nb["cells"] = [cell for cell in nb["cells"] if not (is_test(cell) or is_written(cell))]
    return nb, points_of_tests(solution)


def skips_first_exercise(solution, release, first):
    """Exercise 1 left as released (its function raises), every later exercise solved: later checks stand in the
    course's answers for exercise 1, so this costs exercise 1's points and no others."""
    nb = copy.deepcopy(solution)
    opening, *rest = answer_indices(solution)
    nb["cells"][opening]["source"] = release["cells"][opening]["source"]
    return nb, points_of_tests(solution) - points_of_tests(solution, before=rest[0] if rest else None)


# Answers that hand the whole exercise to a reference, by the answer cell's first function: (module, name,
# body), the body calling it as {f}. Each
# keeps the exercise's signature and would be right if delegation were allowed; the check must give it 0.
DELEGATIONS = {
    "attention": (
        "torch.nn.functional", "scaled_dot_product_attention",
        "scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])\n"
        "if mask is not None:\n    scores = scores.masked_fill(~mask, float('-inf'))\n"
        "return {f}(q, k, v, attn_mask=mask), scores.softmax(dim=-1)"),
    "causal_mask": ("attnlab.answers", "causal_mask", "return {f}(T)"),
    "split_heads": ("attnlab.answers", "split_heads", "return {f}(x, heads)"),
    "multi_head_attention": (
        "torch.nn.functional", "multi_head_attention_forward",
        "B, T, C = x.shape\nxt = x.transpose(0, 1)\n"
        "mask = ~torch.ones(T, T, dtype=torch.bool).tril() if causal else None\n"
        "out, pattern = {f}(xt, xt, xt, C, heads, w_qkv, None, None, None, False, 0.0, w_out, None, "
        "training=False, need_weights=True, attn_mask=mask, average_attn_weights=False)\n"
        "return out.transpose(0, 1), pattern"),
    "transformer_forward": ("attnlab.model", "Transformer", "return {f}.forward(model, tokens)"),
    "weight_by_role": ("attnlab.answers", "weight_by_role", "return {f}(pattern)"),
    "build_copy_layer": ("attnlab.answers", "copy_previous_token", "return {f}(model, layout, SHARP)"),
    "flip_rate": ("attnlab.answers", "flip_rate", "return {f}(model, sequences, positions, vocab_size)"),
    "most_decisive_position": ("attnlab.answers", "most_decisive_position", "return {f}(model, sequences, vocab_size)"),
    "parse_weights": ("attnlab.answers", "parse_weights", "return {f}(pattern, prompts)"),
    "accuracy_without": ("attnlab.answers", "accuracy_without", "return {f}(model, prompts, labels, layer)"),
    "follows_renaming": ("attnlab.answers", "follows_renaming", "return {f}(model, task, prompts)"),
    "first_example_rule": ("attnlab.answers", "first_example_rule", "return {f}(task, prompts)"),
    "knockout_accuracies": ("attnlab.answers", "knockout_accuracies", "return {f}(model, task, prompts, labels)"),
    "essential_layers": ("attnlab.answers", "essential_layers", "return {f}(model, task, prompts, labels)"),
    "ridge": ("attnlab.baselines", "ridge", "return {f}(X, y, x_query, lam)"),
    "gd": ("attnlab.baselines", "correlation_gd",
                                           "return {f}(X, y, x_query, steps, step_size, 0.0)"),
    "gd_step_head": ("attnlab.answers", "gd_step_head", "return {f}(d, eta)"),
    "additivity_gap": ("attnlab.answers", "additivity_gap", "return {f}(predict, prompts)"),
    "shrinkage_ratio": ("attnlab.answers", "shrinkage_ratio", "return {f}(predict, prompts, c)"),
    "head_importance": (
        "attnlab.analysis", "head_importance", "return {f}(model, task, prompts, n_values)"),
    "pruned_mask": ("attnlab.analysis", "pruning_mask",
                                                  "return {f}(importance, 'pruned')"),
    "correlation_weights": (
        "attnlab.baselines", "preprocess_weights", "return {f}(X, y, power)"),
    "preprocess_gd": (
        "attnlab.baselines", "preprocess_gd", "return {f}(X, y, x_query, steps, lr, power)"),
    "preprocess_head": (
        "attnlab.construction", "preprocess_head", "return {f}(model, j)"),
    "gradient_step_head": (
        "attnlab.construction", "gradient_step_head", "return {f}(model, layer, lr, beta)"),
}
VARIANTS = ("direct", "alias", "inner import")
# An answer cell may also try to switch the checks off before it delegates.
TAMPERING = ("import contextlib\n"
             "check.own_work = lambda *answers, forbidden: contextlib.nullcontext()\n"
             "check.close = check.equal = check.shape = check.at_least = lambda *args, **kwargs: None\n")


def delegate(source, module, name, body, variant, tamper):
    """`source` with its first solution region replaced by `body` reaching the reference by `variant`."""
    begin, end = source.index("### BEGIN SOLUTION"), source.index("### END SOLUTION") + len("### END SOLUTION")
    indent = source[source.rindex("\n", 0, begin) + 1:begin]
    prefix = {"direct": f"import {module}\n", "alias": f"from {module} import {name} as borrowed\n",
              "inner import": ""}[variant]
    f = {"direct": f"{module}.{name}", "alias": "borrowed", "inner import": "inner"}[variant]
    lines = ([f"from {module} import {name} as inner"] if variant == "inner import" else []) + \
        body.format(f=f).split("\n")
    region = lines[0] + "".join(f"\n{indent}{line}" for line in lines[1:])
    return (TAMPERING if tamper else "") + prefix + source[:begin] + region + source[end:]


def delegates(rotation, tamper=False):
    """Every exercise with a reference delegated, by variant (its index + rotation) mod 3, so that three
    rotations give every exercise every variant. Each such exercise loses exactly its own points."""
    def make(solution, release, first):
        nb = copy.deepcopy(solution)
        answers = answer_indices(solution)
        lost = 0
        for position, index in enumerate(answers):
            key = first_function(solution["cells"][index]["source"])
            if key not in DELEGATIONS:
                continue
            variant = VARIANTS[(DELEGATED_ORDER.index(key) + rotation) % len(VARIANTS)]
            nb["cells"][index]["source"] = delegate(solution["cells"][index]["source"], *DELEGATIONS[key], variant, tamper)
            following = answers[position + 1] if position + 1 < len(answers) else None
            lost += points_of_tests(solution, before=following, after=index)
        return nb, points_of_tests(solution) - lost
    return make


DELEGATED_ORDER = list(DELEGATIONS)


def first_function(source):
    found = re.search(r"^def (\w+)\(", source, re.M)
    return found and found[1]


def test_every_answer_the_course_holds_is_handed_over_by_a_student_and_refused():
    """An exercise whose answer sits in attnlab.answers under its own name can be delegated by importing it: each
    such exercise is in DELEGATIONS, so the class below shows the delegation graded 0 (and the watch in place)."""
    from attnlab import answers
    exercises = {first_function(cell.source) for path in notebooks(SOLUTIONS)
                 for cell in nbformat.read(path, 4).cells if is_answer(cell)}
    held = {name for name in exercises if name and callable(getattr(answers, name, None))}
    assert held and not held - set(DELEGATIONS), f"not delegated by any student: {sorted(held - set(DELEGATIONS))}"


def in_first_notebook_only(make):
    """A mishap in the assignment's first notebook, and the other notebooks never handed in: each mishap costs a
    notebook's execution (an infinite loop a whole timeout), so once per assignment is enough, and a notebook not
    handed in (the submission is None) must score 0, wait for no grader and leave the handed-in one's grades alone.
    Tampering with the tests too: nbgrader puts cells back by their grade_id, whatever a notebook holds, so each
    assignment's first notebook (the quickest) shows it, without running every notebook once more."""
    def make_first(solution, release, first):
        return make(solution, release, first) if first else (None, 0)
    return make_first


STUDENTS = {
    "alice_solution": full_marks,
    "bob_untouched": untouched,
    "carol_partial": first_answer_only,
    "dan_raises": in_first_notebook_only(with_last_answer('raise RuntimeError("I give up")')),
    # erin's loop sleeps: nbgrader's timeout interrupts it as it would a busy one, and the minute it waits is not a
    # minute of CPU taken from the tests beside it
    "erin_infinite_loop": in_first_notebook_only(with_last_answer("import time\nwhile True:\n    time.sleep(1)")),
    "frank_sys_exit": in_first_notebook_only(with_last_answer("import sys\nsys.exit()")),
    "grace_flood": in_first_notebook_only(flood_then_correct),
    "heidi_tampers_with_tests": in_first_notebook_only(tamper_with_tests),
    "mallory_correct_tests_deleted": in_first_notebook_only(correct_but_delete_tests),
    "ivan_delegates": delegates(0),
    "judy_delegates": delegates(1),
    "karl_delegates_and_tampers_with_checks": delegates(2, tamper=True),
    "liam_skips_exercise_1": skips_first_exercise,
}


@dataclass
class Expected:
    """What a class's submissions of one assignment must come to."""
    scores: dict  # student -> notebook -> the score autograding gives
    written: dict  # student -> notebook -> {grade_id of each written answer: whether it was answered}
    maximum: dict  # notebook -> its points, written answers included
    handed_in: dict  # student -> the notebooks they handed in


def answered(submission, release):
    """{grade_id: answered} for each written answer of `release`: answered unless `submission` holds it as released.
    nbgrader gives an answer as released 0 at once and leaves every other to a grader, a deleted one too (it puts it
    back, with a notice in it)."""
    submitted = {nbgrader_meta(cell).get("grade_id"): cell["source"] for cell in submission["cells"]}
    return {nbgrader_meta(cell)["grade_id"]: submitted.get(nbgrader_meta(cell)["grade_id"]) != cell["source"]
            for cell in release["cells"] if is_written(cell)}


def submit_class(course, assignment):
    """Write every student's submission of `assignment`; return what each notebook must come to."""
    expected = Expected({}, {}, {}, {})
    for student, make in STUDENTS.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        expected.scores[student], expected.written[student], expected.handed_in[student] = {}, {}, set()
        for index, solution_path in enumerate(notebooks(course / "solutions" / assignment)):
            release_path = course / "course" / assignment / solution_path.name
            pair = nbformat.read(solution_path, 4), nbformat.read(release_path, 4)
            submission, score = make(*pair, first=index == 0)
            if submission is not None:
                nbformat.write(submission, folder / solution_path.name)
                expected.handed_in[student].add(solution_path.stem)
            expected.scores[student][solution_path.stem] = score
            # nbgrader scores a notebook not handed in 0, its written answers too, none waiting for a grader:
            # as if the release had been handed in
            expected.written[student][solution_path.stem] = answered(submission or pair[1], pair[1])
            expected.maximum[solution_path.stem] = points_of_tests(pair[0]) + points_of_written(pair[0])
    return expected


def hand_mark(student, points):
    """The instructor's mark for a written answer that waits for one: full marks for alice's (the model answers),
    half marks for any other. The tests check that marks reach the totals, not how answers deserve them."""
    return points if student == "alice_solution" else points / 2


def grade_by_hand(course, assignment, students):
    """Mark every grade that the gradebook says waits for a grader, as the formgrader's grade form does (nbgrader's
    GradeHandler.put sets manual_score, and needs_manual_grade from it). Returns student -> notebook -> marks."""
    marks = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            marks[student] = {}
            for submitted in gradebook.find_submission(assignment, student).notebooks:
                marks[student][submitted.name] = 0
                for grade in submitted.grades:
                    if grade.needs_manual_grade:
                        grade.manual_score = hand_mark(student, grade.max_score)
                        grade.needs_manual_grade = grade.manual_score is None and grade.auto_score is None
                        marks[student][submitted.name] += grade.manual_score
        gradebook.db.commit()
    return marks


def autograded(course, assignment, students):
    """student -> notebook -> (score, {grade_id: (auto_score, needs_manual_grade)}), as autograding left them."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {student: {submitted.name: (submitted.score, {grade.name: (grade.auto_score, grade.needs_manual_grade)
                                                             for grade in submitted.grades})
                          for submitted in gradebook.find_submission(assignment, student).notebooks}
                for student in students}


@pytest.fixture(scope="module")
def autograding(tmp_path_factory):
    """Start autograding every assignment at once: each has its own scratch course and gradebook, so they run
    side by side (the slowest sets the time, not the sum)."""
    started = {}
    try:
        for assignment in assignments():
            course = scratch_course(tmp_path_factory.mktemp(assignment))
            nbgrader(course, "generate_assignment", assignment, "--force")
            expected = submit_class(course, assignment)
            started[assignment] = course, expected, start_nbgrader(course, "autograde", assignment, TIMEOUT)
        yield started
    finally:
        for _, _, (process, _) in started.values():
            if process.poll() is None:
                process.kill()


@dataclass
class Graded:
    assignment: str
    course: Path  # the scratch course
    expected: Expected
    autograded: dict  # what autograding left in the gradebook, before any hand grading (see autograded)
    marks: dict  # student -> notebook -> the marks the instructor gave by hand


@pytest.fixture(scope="module", params=assignments())
def graded(request, autograding):
    """The instructor's pipeline for one assignment: autograde (started above), grade the written answers by hand,
    feedback, export."""
    assignment = request.param
    course, expected, process = autograding[assignment]
    finish_nbgrader(process)
    before = autograded(course, assignment, STUDENTS)
    marks = grade_by_hand(course, assignment, STUDENTS)
    nbgrader(course, "generate_feedback", assignment)
    nbgrader(course, "export", "--to", "grades.csv")
    return Graded(assignment, course, expected, before, marks)


def test_every_submission_scores_exactly_what_it_deserves(graded):
    """Autograding's scores, before any hand grading: written answers change none of them."""
    got = {student: {nb: score for nb, (score, _) in scores.items()} for student, scores in graded.autograded.items()}
    assert got == graded.expected.scores


def test_written_answers_wait_for_a_grader_and_never_score_by_themselves(graded):
    """Autograding gives a written answer left as released 0, and leaves every other (a model answer, a deleted
    one, one dressed up as a passing test) to a grader, scoring nothing; no autograded cell waits for a grader."""
    for student, scores in graded.autograded.items():
        for nb, (_, grades) in scores.items():
            written = graded.expected.written[student][nb]
            assert set(written) <= set(grades), f"{student}/{nb}: no grade for {set(written) - set(grades)}"
            for name, state in grades.items():
                expected = ((None, True) if written[name] else (0.0, False)) if name in written else (state[0], False)
                assert state == expected, f"{student}/{nb}/{name}: (auto score, waits for a grader) is {state}"


def test_solutions_score_full_marks_and_release_zero(graded):
    scores = graded.expected.scores
    solution_total = sum(points_of_tests(nbformat.read(p, 4)) for p in notebooks(SOLUTIONS / graded.assignment))
    assert sum(scores["alice_solution"].values()) == solution_total > 0
    assert sum(scores["bob_untouched"].values()) == 0
    assert 0 < sum(scores["carol_partial"].values()) < solution_total


def raised(cell):
    return any(output.get("output_type") == "error" for output in cell.get("outputs", []))


def test_the_release_fails_its_tests_and_nothing_else(graded):
    """bob hands in the release as it is, and nbgrader runs it as a student who answers nothing would: every test
    cell fails, so no stub gives points away; and no cell outside the exercises fails, so a student who is stuck still
    runs every demo and figure (later demos stand in the course's answers, and say so)."""
    for path in notebooks(graded.course / "autograded" / "bob_untouched" / graded.assignment):
        cells = nbformat.read(path, 4).cells
        tests = [i for i, cell in enumerate(cells) if is_test(cell)]
        assert tests, f"{path.name} has no graded test cell"
        passing = [i for i in tests if not raised(cells[i])]
        assert not passing, f"{path.name}: test cells {passing} pass on the empty release: a stub gives points away"
        own = {i for i, cell in enumerate(cells)
               if nbgrader_meta(cell).get("grade") or nbgrader_meta(cell).get("solution")}
        broken = {i: next(o["ename"] + ": " + o["evalue"] for o in cell.outputs if o["output_type"] == "error")
                  for i, cell in enumerate(cells) if i not in own and raised(cell)}
        assert not broken, f"{path.name}: cells outside the exercises fail for a student with no answers: {broken}"


def test_hand_grading_leaves_nothing_to_grade(graded):
    with Gradebook(f"sqlite:///{graded.course / 'gradebook.db'}") as gradebook:
        waiting = [student for student in STUDENTS
                   if gradebook.find_submission(graded.assignment, student).needs_manual_grade]
    assert not waiting, f"still waiting for a grader: {waiting}"
    written = sum(points_of_written(nbformat.read(p, 4)) for p in notebooks(SOLUTIONS / graded.assignment))
    assert sum(graded.marks["alice_solution"].values()) == written  # full marks for the model answers


def total(graded, student, nb):
    """What a notebook comes to after hand grading: autograding's score plus the instructor's marks."""
    return float(graded.expected.scores[student][nb] + graded.marks[student][nb])


def test_feedback_for_every_notebook_handed_in(graded):
    for student, scores in graded.expected.scores.items():
        for nb in scores:
            page = graded.course / "feedback" / student / graded.assignment / f"{nb}.html"
            if nb not in graded.expected.handed_in[student]:  # nbgrader writes feedback from what was graded
                assert not page.exists(), f"feedback for {student}/{nb}, which was not handed in"
                continue
            assert page.exists(), f"no feedback for {student}/{nb}"
            score = f"Score: {total(graded, student, nb)} / {float(graded.expected.maximum[nb])}"
            assert score in page.read_text(), f"feedback for {student}/{nb} does not say {score!r}"


def test_grades_csv_adds_the_hand_marks_to_the_autograded_scores(graded):
    rows = [row for row in csv.DictReader((graded.course / "grades.csv").open())
            if row["assignment"] == graded.assignment]
    totals = {row["student_id"]: float(row["score"]) for row in rows}
    assert totals == {student: sum(total(graded, student, nb) for nb in scores)
                      for student, scores in graded.expected.scores.items()}
    maximum = float(sum(graded.expected.maximum.values()))
    assert all(float(row["max_score"]) == maximum for row in rows)

