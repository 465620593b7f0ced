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
# deserves. Exercises are answer cells followed by their test cells, so breaking the *last* answer costs
# exactly the tests after it, and filling in only the *first* answer earns exactly the tests before the second.
def with_last_answer(source):
    def make(solution, release):
        nb = copy.deepcopy(solution)
        nb["cells"][answer_indices(nb)[-1]]["source"] = source
        return nb, points_of_tests(solution, before=answer_indices(solution)[-1])
    return make


def full_marks(solution, release):
    return copy.deepcopy(solution), points_of_tests(solution)


def untouched(solution, release):
    return copy.deepcopy(release), 0


def first_answer_only(solution, release):
    nb = copy.deepcopy(release)
    first, *rest = answer_indices(solution)
    nb["cells"][first]["source"] = solution["cells"][first]["source"]
    return nb, points_of_tests(solution, before=rest[0] if rest else None)


def flood_then_correct(solution, release):
    nb = copy.deepcopy(solution)
    first = answer_indices(nb)[0]
    nb["cells"][first]["source"] = ("for line in range(100_000):\n    print('flood', line)\n"
                                    + nb["cells"][first]["source"])
    return nb, points_of_tests(solution)


def edit_tests_to_pass(solution, release):
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        if is_test(cell):
            cell["source"] = "pass"
    return nb, 0


def delete_tests(solution, release):
    nb = copy.deepcopy(release)
    nb["cells"] = [cell for cell in nb["cells"] if not is_test(cell)]
    return nb, 0


def strip_test_metadata(solution, release):
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        if is_test(cell):
            cell["metadata"] = {}
            cell["source"] = "pass"
    return nb, 0


def correct_but_delete_tests(solution, release):
    nb = copy.deepcopy(solution)
    nb["cells"] = [cell for cell in nb["cells"] if not is_test(cell)]
    return nb, points_of_tests(solution)


STUDENTS = {
    "alice_solution": full_marks,
    "bob_untouched": untouched,
    "carol_partial": first_answer_only,
    "dan_raises": with_last_answer('raise RuntimeError("I give up")'),
    "erin_infinite_loop": with_last_answer("while True:\n    pass"),
    "frank_sys_exit": with_last_answer("import sys\nsys.exit()"),
    "grace_flood": flood_then_correct,
    "heidi_tests_edited": edit_tests_to_pass,
    "ivan_tests_deleted": delete_tests,
    "judy_metadata_stripped": strip_test_metadata,
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
        for solution_path in notebooks(course / "solutions" / assignment):
            release_path = course / "course" / assignment / solution_path.name
            submission, score = make(nbformat.read(solution_path, 4), nbformat.read(release_path, 4))
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

