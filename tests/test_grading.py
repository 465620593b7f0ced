"""The instructor's whole pipeline, with nbgrader's own commands, on a class of tricky submissions.

For every assignment (found under solutions/): generate the release, autograde a set of submissions in
one run, generate feedback, export grades, and check each score exactly. The commands are the ones in
the README's instructor guide.
"""
import copy
import csv

import nbformat
import pytest
from nbgrader.api import Gradebook

from course import SOLUTIONS, assignments, nbgrader, notebooks, scratch_course

# A student's infinite loop is stopped by nbgrader's cell timeout; the tests use a shorter one than the
# course's 120 s so that they stay fast (the slowest solution cell still fits in it).
TIMEOUT = "--Execute.timeout=60"


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_answer(cell):
    return nbgrader_meta(cell).get("solution", False) and cell["cell_type"] == "code"


def is_test(cell):
    return nbgrader_meta(cell).get("grade", False) and not nbgrader_meta(cell).get("solution", False)


def answer_indices(nb):
    return [i for i, cell in enumerate(nb["cells"]) if is_answer(cell)]


def points_of_tests(nb, before=None, after=None):
    """Points of the test cells whose index lies in (after, before)."""
    return sum(nbgrader_meta(cell)["points"] for i, cell in enumerate(nb["cells"]) if is_test(cell)
               and (before is None or i < before) and (after is None or i > after))


# Each student turns a (solution, release) pair of notebooks into a submission, and knows the score it
# deserves; `first` says whether this is the assignment's first notebook. Exercises are answer cells followed
# by their test cells, so breaking the *last* answer costs exactly the tests after it, and filling in only
# the *first* answer earns exactly the tests before the second.
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
    nbgrader metadata (and emptied). nbgrader restores them all from the gradebook: no free points."""
    nb = copy.deepcopy(release)
    tests = [cell for cell in nb["cells"] if is_test(cell)]
    for cell in tests[0::3] + tests[2::3]:
        cell["source"] = "pass"
    for cell in tests[2::3]:
        cell["metadata"] = {}
    deleted = {id(cell) for cell in tests[1::3]}
    nb["cells"] = [cell for cell in nb["cells"] if id(cell) not in deleted]
    return nb, 0


def correct_but_delete_tests(solution, release, first):
    nb = copy.deepcopy(solution)
    nb["cells"] = [cell for cell in nb["cells"] if not is_test(cell)]
    return nb, points_of_tests(solution)


def in_first_notebook_only(make):
    """A mishap in the assignment's first notebook only, the others solved: each mishap costs a notebook's
    execution (an infinite loop a whole timeout), so once per assignment is enough."""
    def make_first(solution, release, first):
        return make(solution, release, first) if first else full_marks(solution, release, first)
    return make_first


STUDENTS = {
    "alice_solution": full_marks,
    "bob_untouched": untouched,
    "carol_partial": first_answer_only,
    "dan_raises": in_first_notebook_only(with_last_answer('raise RuntimeError("I give up")')),
    "erin_infinite_loop": in_first_notebook_only(with_last_answer("while True:\n    pass")),
    "frank_sys_exit": in_first_notebook_only(with_last_answer("import sys\nsys.exit()")),
    "grace_flood": in_first_notebook_only(flood_then_correct),
    "heidi_tampers_with_tests": tamper_with_tests,
    "mallory_correct_tests_deleted": correct_but_delete_tests,
}


@pytest.fixture(scope="module", params=assignments())
def graded(request, tmp_path_factory):
    """Run the instructor's pipeline once per assignment; return what the tests inspect."""
    assignment = request.param
    course = scratch_course(tmp_path_factory.mktemp(assignment))
    nbgrader(course, "generate_assignment", assignment, "--force")
    expected = {}
    for student, make in STUDENTS.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        expected[student] = {}
        for index, solution_path in enumerate(notebooks(course / "solutions" / assignment)):
            release_path = course / "course" / assignment / solution_path.name
            pair = nbformat.read(solution_path, 4), nbformat.read(release_path, 4)
            submission, score = make(*pair, first=index == 0)
            nbformat.write(submission, folder / solution_path.name)
            expected[student][solution_path.stem] = score
    nbgrader(course, "autograde", assignment, TIMEOUT)
    nbgrader(course, "generate_feedback", assignment)
    nbgrader(course, "export", "--to", "grades.csv")
    return assignment, course, expected


def test_every_submission_scores_exactly_what_it_deserves(graded):
    assignment, course, expected = graded
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        got = {student: {nb: gradebook.find_submission_notebook(nb, assignment, student).score
                         for nb in expected[student]} for student in expected}
    assert got == expected


def test_solutions_score_full_marks_and_release_zero(graded):
    assignment, _, expected = graded
    solution_total = sum(points_of_tests(nbformat.read(p, 4)) for p in notebooks(SOLUTIONS / assignment))
    assert sum(expected["alice_solution"].values()) == solution_total > 0
    assert sum(expected["bob_untouched"].values()) == 0
    assert 0 < sum(expected["carol_partial"].values()) < solution_total


def test_feedback_for_every_student_and_notebook(graded):
    assignment, course, expected = graded
    for student, scores in expected.items():
        for nb in scores:
            page = course / "feedback" / student / assignment / f"{nb}.html"
            assert page.exists(), f"no feedback for {student}/{nb}"
            total = f"Score: {float(scores[nb])} / {float(expected['alice_solution'][nb])}"
            assert total in page.read_text(), f"feedback for {student}/{nb} does not say {total!r}"


def test_grades_csv_lists_every_student_with_the_right_total(graded):
    assignment, course, expected = graded
    rows = [row for row in csv.DictReader((course / "grades.csv").open()) if row["assignment"] == assignment]
    totals = {row["student_id"]: float(row["score"]) for row in rows}
    assert totals == {student: float(sum(scores.values())) for student, scores in expected.items()}
    maximum = float(sum(expected["alice_solution"].values()))
    assert all(float(row["max_score"]) == maximum for row in rows)

