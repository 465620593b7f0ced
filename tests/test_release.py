"""course/ must be exactly what nbgrader generates from solutions/, and a release must fail its own tests, and
nothing else, when a student has answered nothing."""
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from course import RELEASE, SOLUTIONS, assignments, is_test, nbgrader, nbgrader_meta, notebooks, scratch_course


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


def executed_release(notebook):
    """The release notebook run top to bottom as a student who answers nothing would (errors do not stop it), under
    nbgrader's validate setting, as `nbgrader validate` runs it."""
    nb = nbformat.read(notebook, 4)
    env = dict(os.environ, NBGRADER_EXECUTION="validate", ATTNLAB_PROGRESS="0")
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(notebook.parent)}})
    client.km = client.kernel_manager_class(kernel_name="python3", env=env)  # the kernel sees env, not our os.environ
    client.execute(env=env)
    return nb


def raised(cell):
    return any(output.get("output_type") == "error" for output in cell.get("outputs", []))


@pytest.mark.parametrize("notebook", notebooks(RELEASE), ids=lambda p: str(p.relative_to(RELEASE)))
def test_release_fails_its_tests_and_nothing_else(notebook):
    """A student who is stuck, or has not started, still runs every demo and figure: only the exercises' own
    cells fail (later demos stand in the course's answers, and say so). And every test cell fails on the empty
    release, so no stub gives points away."""
    cells = executed_release(notebook).cells
    tests = [i for i, cell in enumerate(cells) if is_test(cell)]
    assert tests, f"{notebook} has no graded test cell"
    passing = [i for i in tests if not raised(cells[i])]
    assert not passing, f"test cells {passing} pass on the empty release: a stub gives points away"
    own = {i for i, cell in enumerate(cells) if nbgrader_meta(cell).get("grade") or nbgrader_meta(cell).get("solution")}
    broken = {i: next(o["ename"] + ": " + o["evalue"] for o in cell.outputs if o["output_type"] == "error")
              for i, cell in enumerate(cells) if i not in own and raised(cell)}
    assert not broken, f"cells outside the exercises fail for a student with no answers: {broken}"


@pytest.mark.parametrize("notebook", notebooks(SOLUTIONS), ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_solutions_are_stored_without_outputs(notebook):
    code = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), (
        f"{notebook} has outputs: clear them before committing (Edit > Clear Outputs of All Cells)")
