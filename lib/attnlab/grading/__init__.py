"""Autograde a class in parallel with nbgrader: every student's submission of one or more assignments, several at a
time, each in a scratch copy of the course, so that a submission reaches the gradebook whole or not at all.

- `submissions`: what gets graded: the course (`Course`), one student's submission of one assignment
  (`Submission`), the checks of a student's folder before nbgrader sees it, `already_graded`, `plan`;
- `run`: running nbgrader per submission (killing its process tree past the limit), recording each result into the
  gradebook, `grade`, `grade_class` and the `summary` an instructor reads at the end;
- `sandbox` (with its `kernel_launcher`) and `preprocessors`: what nbgrader_config.py puts in nbgrader's own
  autograding: student code in a bubblewrap sandbox, and a test cell that raised scoring 0;
- `review`: the review list, code in the submissions that a person should look at (flags never change scores);
- `__main__`: the command line (`main`), run from the course root:

    python -m attnlab.grading part0_foundations part1_depth part2_heads --workers 16
"""
from .run import LIMIT, LOGS, grade, grade_class, record, summary
from .submissions import Course, Submission, plan

__all__ = ["LIMIT", "LOGS", "grade", "grade_class", "record", "summary", "Course", "Submission", "plan"]
