"""Students per hour that `python -m attnlab.grading` autogrades with 1 and with 2 workers, side by side, per
assignment and for the whole course, and the time that projects for a class on a bigger machine.

    python benchmarks/grading_class.py [--students 2] [--workers 1 2] [--class-size 200] [--cores 16] [--clean-room]

Every student hands in the solution notebooks (a correct submission, as in grading_time.py); the clean room
(attnlab.grading.clean_room) then leaves nothing out and is skipped. With --clean-room, each notebook's first answer
also ends with a statement the clean room leaves out (a del), so that every notebook runs twice: the worst case, a
class whose every submission pays for the clean room. For each assignment,
the same class is graded once per worker count, one right after the other, each in a fresh copy of one scratch
course, so that both see the same machine load. The projection assumes that grading scales as measured here: each
worker keeps about one core busy, and `--cores` workers on as many cores keep the parallel efficiency that the
largest worker count had here (its speedup over 1 worker, divided by its workers), on cores as fast as these.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from attnlab.cli import positive_int
from attnlab.grading import grade_class
from attnlab.grading.review import clean_room_flags

ROOT = Path(__file__).resolve().parent.parent


def assignments():
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def scratch_class(scratch, students, clean_room):
    """A scratch course whose gradebook knows every assignment, with `students` correct submissions of each; with
    `clean_room`, each with a statement that the clean room leaves out."""
    course = scratch / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = dict(os.environ, ATTNLAB_PROGRESS="0")
    for assignment in assignments():  # one at a time: each writes the one gradebook
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"], cwd=course,
                       env=env, check=True, capture_output=True)
        for student in (f"student{number:03d}" for number in range(students)):
            shutil.copytree(course / "solutions" / assignment, course / "submitted" / student / assignment)
            if clean_room:
                for path in (course / "submitted" / student / assignment).glob("*.ipynb"):
                    leave_something_out(path)
    return course


def leave_something_out(path):
    """End the notebook's first answer with a statement that the clean room leaves out, and that changes nothing."""
    nb = nbformat.read(path, 4)
    answer = next(cell for cell in nb.cells if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
                  and cell.cell_type == "code")
    answer.source += "\n_unused = 0\ndel _unused"
    nbformat.write(nb, path)


def time_grading(course, scratch, assignment, workers):
    """Seconds to grade the class's submissions of `assignment` in a fresh copy of `course`."""
    copy = shutil.copytree(course, scratch / f"{assignment}-{workers}")
    submissions, seconds = grade_class(copy, [assignment], workers, progress=False)
    failed = [f"{s.student}: {s.reason}" for s in submissions if s.status != "graded"]
    if failed:
        sys.exit(f"{assignment} with {workers} workers: not every submission was graded:\n" + "\n".join(failed))
    lowered = [f"{path.relative_to(copy)}: {reason}" for path in sorted(copy.glob("autograded/*/*/*.ipynb"))
               for *_, reason in clean_room_flags(path)]
    if lowered:  # every submission is correct: the clean room must cost none of them anything
        sys.exit(f"{assignment}: the clean room lowered a correct submission's score:\n" + "\n".join(lowered))
    shutil.rmtree(copy)
    return seconds


def per_hour(students, seconds):
    return students * 3600 / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=positive_int, default=2, help="the class size graded here (default 2)")
    parser.add_argument("--workers", type=positive_int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    parser.add_argument("--class-size", type=positive_int, default=200, help="the class to project for (default 200)")
    parser.add_argument("--cores", type=positive_int, default=16, help="the cores to project for (default 16)")
    parser.add_argument("--clean-room", action="store_true",
                        help="make every notebook run twice, in the clean room too (the worst case)")
    args = parser.parse_args()
    if 1 not in args.workers:
        parser.error("--workers must include 1: the projection is made from the speedup over one worker")
    workers = sorted(set(args.workers))
    print(f"load average at the start: {os.getloadavg()[0]:.2f}; {args.students} students, workers {workers}"
          + ("; every notebook runs in the clean room too" if args.clean_room else ""))
    scratch = Path(tempfile.mkdtemp(prefix="grading-class-"))
    try:
        course = scratch_class(scratch, args.students, args.clean_room)
        seconds = {a: {n: time_grading(course, scratch, a, n) for n in workers} for a in assignments()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds["all three"] = {n: sum(seconds[a][n] for a in assignments()) for n in workers}
    print(f"{'assignment':20s}" + "".join(f"{f'{n} worker(s): s':>18s}{'students/h':>12s}" for n in workers)
          + "".join(f"{f'speedup x{n}':>13s}" for n in workers[1:]))
    for name, by_workers in seconds.items():
        print(f"{name:20s}" + "".join(f"{by_workers[n]:18.1f}{per_hour(args.students, by_workers[n]):12.1f}"
                                      for n in workers)
              + "".join(f"{by_workers[1] / by_workers[n]:13.2f}" for n in workers[1:]))
    most = workers[-1]
    efficiency = seconds["all three"][1] / seconds["all three"][most] / most
    per_student = seconds["all three"][1] / args.students  # one core's seconds for one student's whole course
    projected = args.class_size * per_student / (args.cores * efficiency)
    print(f"one student, all three assignments, 1 worker: {per_student:.0f} s; efficiency with {most} workers: "
          f"{efficiency:.2f}")
    print(f"projected for {args.class_size} students, all three assignments, {args.cores} workers on {args.cores} "
          f"cores: {projected / 60:.0f} min ({'within' if projected <= 3600 else 'over'} one hour; "
          f"{args.class_size * per_student / args.cores / 60:.0f} min if it scaled perfectly)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
