"""course/ must be exactly what nbgrader generates from solutions/, and solutions are stored without outputs. (That
a release fails its own tests and nothing else is checked on a student who hands it in as it is, in
test_grading.py: nbgrader runs it there anyway.)"""
import json

import pytest

from course import RELEASE, SOLUTIONS, assignments, nbgrader, notebooks, scratch_course


def relative(paths, folder):
    return [p.relative_to(folder) for p in paths]


def test_every_solution_has_a_release_and_nothing_else_is_released():
    assert assignments(), "no assignment found under solutions/"
    assert relative(notebooks(SOLUTIONS), SOLUTIONS) == relative(notebooks(RELEASE), RELEASE)


@pytest.mark.parametrize("assignment", assignments())
def test_release_is_what_nbgrader_generates(assignment, tmp_path):
    course = scratch_course(tmp_path)
    nbgrader(course, "generate_assignment", assignment, "--force")
    for generated in notebooks(course / "course" / assignment):
        committed = RELEASE / assignment / generated.name
        assert json.loads(generated.read_text()) == json.loads(committed.read_text()), (
            f"{committed} is stale: run `nbgrader generate_assignment {assignment} --force` and commit course/")


@pytest.mark.parametrize("notebook", notebooks(SOLUTIONS), ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_solutions_are_stored_without_outputs(notebook):
    code = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), (
        f"{notebook} has outputs: clear them before committing (Edit > Clear Outputs of All Cells)")
