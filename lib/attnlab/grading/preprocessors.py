"""The course's own steps in nbgrader's autograding, named in nbgrader_config.py (c.Autograde.autograde_preprocessors),
so that `nbgrader autograde`, `python -m attnlab.grading` and a hub's formgrader all grade the same way:

- `SandboxedExecute` runs the notebook as nbgrader's Execute does, but in a sandbox (attnlab.grading.sandbox);
- `SaveAutoGrades` scores as nbgrader's, except that a test cell that raised scores 0.
"""
from nbgrader.preprocessors import Execute
from nbgrader.preprocessors import SaveAutoGrades as NbgraderSaveAutoGrades
from nbgrader.utils import is_grade, is_solution

from . import sandbox

_said = set()  # what this process has warned about, to say it once


class SandboxedExecute(Execute):
    """nbgrader's Execute, its kernels started in the sandbox. Where the machine cannot sandbox (no bwrap, no user
    namespaces), it says so once and runs kernels as nbgrader does, with the grader's rights."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        why = sandbox.problem()
        if why is None:
            self.kernel_manager_class = sandbox.SandboxKernelManager
        elif why not in _said:
            _said.add(why)
            self.log.warning("Student code runs WITHOUT a sandbox, with the grader's rights: %s", why)


def raised(cell):
    """Whether the cell's code raised (nbgrader's Execute records every failed execution as an error output)."""
    return any(output.output_type == "error" for output in cell.get("outputs", []))


class SaveAutoGrades(NbgraderSaveAutoGrades):
    """nbgrader's, except that a test cell that raised scores 0. nbgrader reads a cell's outputs in order and takes
    the first result it finds: a result that is not a number (say one an answer's hook displays at the start of every
    cell) would earn full points even with the test's error after it."""

    def _add_score(self, cell, resources):
        if not (is_grade(cell) and not is_solution(cell) and raised(cell)):
            return super()._add_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata.nbgrader["grade_id"], self.notebook_id, self.assignment_id,
                                          self.student_id)
        grade.auto_score = 0
        grade.needs_manual_grade = grade.manual_score is not None  # nbgrader's rule, for a score it has
        self.gradebook.db.commit()
