"""Exercises are well formed: hidden tests exist and stay hidden, visible checks speak to the student."""
import re

import nbformat
import pytest

from course import HIDDEN, RELEASE, SOLUTIONS, notebooks

SOLUTION_NOTEBOOKS = notebooks(SOLUTIONS)


def graded_cells(path):
    return [cell for cell in nbformat.read(path, 4).cells if cell.metadata.get("nbgrader", {}).get("grade")
            and not cell.metadata["nbgrader"].get("solution")]


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_every_graded_exercise_has_visible_and_hidden_tests(path):
    cells = graded_cells(path)
    assert len(cells) >= 2, f"{path.name}: a notebook needs at least two graded exercises"
    for cell in cells:
        name = cell.metadata["nbgrader"]["grade_id"]
        assert HIDDEN.search(cell.source), f"{name}: no hidden test"
        visible = HIDDEN.sub("", cell.source)
        assert "check." in visible, f"{name}: no visible check for the student"
        # A bare assert gives a student nothing to go on; attnlab.check says what was expected and got.
        bare = [line for line in visible.splitlines() if line.lstrip().startswith("assert ")]
        assert not bare, f"{name}: visible tests should call attnlab.check, not assert: {bare}"


def test_no_hidden_test_text_appears_in_the_release():
    hidden, shown = set(), set()
    for path in SOLUTION_NOTEBOOKS:
        for cell in nbformat.read(path, 4).cells:
            hidden.update(line.strip() for block in HIDDEN.findall(cell.source) for line in block.splitlines())
            shown.update(line.strip() for line in HIDDEN.sub("", cell.source).splitlines())
    # Lines that also stand in visible code (a blank, a seed) prove nothing; the rest must not leak.
    hidden_lines = {line for line in hidden - shown if len(line) > 12}
    assert hidden_lines
    released = "\n".join(cell.source for path in notebooks(RELEASE) for cell in nbformat.read(path, 4).cells)
    leaked = [line for line in hidden_lines if line in released]
    assert not leaked, f"hidden tests visible in course/: {leaked[:5]}"
    assert "BEGIN HIDDEN TESTS" not in released and "BEGIN SOLUTION" not in released


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_the_first_cell_announces_the_real_exercises_and_points(path):
    cells = nbformat.read(path, 4).cells
    announced = re.search(r"\*\*Graded exercises:\*\* (\d+) \((\d+) points?\)", cells[0].source)
    assert announced, f"{path.name}: the first cell should say '**Graded exercises:** N (P points)'"
    headings = re.findall(r"### Exercise (\d+) \((\d+) points?\)", "\n".join(c.source for c in cells))
    points = sum(cell.metadata["nbgrader"]["points"] for cell in graded_cells(path))
    assert [int(n) for n, _ in headings] == list(range(1, len(headings) + 1)), f"exercises numbered {headings}"
    assert sum(int(p) for _, p in headings) == points, f"headings promise {headings}, the test cells give {points}"
    assert (int(announced[1]), int(announced[2])) == (len(headings), points)


def test_the_readme_states_each_parts_points():
    readme = (SOLUTIONS.parent / "README.md").read_text()
    stated = re.search(r"\(part0: (\d+) points, part1: (\d+) points, part2: (\d+) points; (\d+) in all\)", readme)
    assert stated, "the README should say '(part0: N points, part1: N points, part2: N points; N in all)'"
    parts = [sum(cell.metadata["nbgrader"]["points"] for path in sorted((SOLUTIONS / part).glob("*.ipynb"))
                 for cell in graded_cells(path)) for part in ("part0_foundations", "part1_depth", "part2_heads")]
    assert [int(n) for n in stated.groups()] == parts + [sum(parts)]


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_every_test_cell_follows_an_answer_or_a_test_cell(path):
    """nbgrader puts a deleted test cell back after the graded cell that came before it in the source, and fails
    the whole submission when that cell is an ordinary one: so a test cell must follow an answer or a test."""
    cells = nbformat.read(path, 4).cells
    for before, cell in zip(cells, cells[1:]):
        meta, before_meta = cell.metadata.get("nbgrader", {}), before.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            assert before_meta.get("grade") or before_meta.get("solution"), \
                f"{meta['grade_id']} follows an ordinary cell ({before_meta.get('grade_id')})"


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_every_watched_exercise_says_what_it_may_not_call(path):
    """A check that forbids a function (check.own_work) is announced in the exercise's statement."""
    cells = nbformat.read(path, 4).cells
    for index, cell in enumerate(cells):
        if cell.metadata.get("nbgrader", {}).get("grade") and "check.own_work(" in cell.source:
            statement = next(c for c in reversed(cells[:index]) if c.cell_type == "markdown")
            assert "may not call" in " ".join(statement.source.lower().split()), \
                f"{cell.metadata['nbgrader']['grade_id']}: its statement does not say what it may not call"
