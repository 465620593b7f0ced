"""Autograde a class in parallel: every student's submission of one or more assignments, several at a time.

    python -m attnlab.grading part0_foundations part1_depth part2_heads --workers 16

Run it from the course root (where nbgrader_config.py is), after `nbgrader generate_assignment` has put each
assignment in the gradebook. The summary at the end lists what was graded, the notes on each submission and what
could not be graded, with its log, then the review list (attnlab.grading.review: code a person should look at,
in autograded/.logs/review.csv); the exit status is 1 if any submission could not be graded.
"""
import argparse
import os
import sys

from attnlab.cli import positive_float, positive_int

from . import review, sandbox
from .run import LIMIT, LOGS, grade, summary
from .submissions import Course, plan


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m attnlab.grading", description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="+", metavar="ASSIGNMENT")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                        help="submissions graded at once, about one core each (default: this machine's cores)")
    parser.add_argument("--limit", type=positive_float, default=LIMIT,
                        help=f"seconds one submission may take before its runs are killed (default {LIMIT})")
    parser.add_argument("--student", action="append", dest="students", metavar="STUDENT",
                        help="grade only this student (repeat for more)")
    parser.add_argument("--force", action="store_true", help="regrade submissions that were graded before")
    parser.add_argument("--course", default=".", help="the course root, where nbgrader_config.py is (default: here)")
    args = parser.parse_args(argv)
    try:
        course = Course(args.course)
        submissions = plan(course, args.assignments, args.students, args.force)
    except ValueError as error:
        parser.error(str(error))
    waiting = sum(s.status == "waiting" for s in submissions)
    print(f"Autograding {waiting} submissions of {', '.join(dict.fromkeys(args.assignments))} with {args.workers} "
          f"worker{'s' * (args.workers > 1)}, at most {args.limit:g} s each; logs in "
          f"{course.root / course.dirs.autograded_directory / LOGS}", flush=True)
    if sandbox.problem():
        print(f"Student code runs WITHOUT a sandbox, with the grader's rights: {sandbox.problem()}", flush=True)
    seconds = grade(course, submissions, args.workers, args.limit)
    print(summary(submissions, seconds, args.workers))
    flagged, to = review.review(course, args.assignments), course.root / course.dirs.autograded_directory / LOGS
    to.mkdir(parents=True, exist_ok=True)
    review.write_csv(flagged, to / "review.csv")
    print(review.report(flagged, to / "review.csv"))
    return 1 if any(s.status in ("failed", "killed", "ungradable") for s in submissions) else 0


if __name__ == "__main__":
    sys.exit(main())
