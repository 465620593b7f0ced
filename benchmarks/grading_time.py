"""Seconds to autograde one student's correct submission, per assignment, here and at another git revision.

    python benchmarks/grading_time.py [--against REV] [--rounds 2]

Each round grades the same solution notebooks with `nbgrader autograde`, once with this working tree's
solutions and library and once with REV's (a git worktree), one after the other, so that both see the same
machine load. Prints the median seconds of each and their ratio.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from attnlab.cli import positive_int

ROOT = Path(__file__).resolve().parent.parent


def assignments(tree):
    return sorted(p.name for p in (tree / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def grade_once(tree, assignment, scratch):
    """Autograde the solutions of `assignment` from `tree`, as one student; return the seconds it took."""
    course = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copy(tree / "nbgrader_config.py", course)
    shutil.copytree(tree / "solutions", course / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = dict(os.environ, ATTNLAB_PROGRESS="0", PYTHONPATH=str(tree / "lib"))  # that tree's library
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", assignment, "--force"], cwd=course, env=env, check=True,
                   capture_output=True)
    shutil.copytree(course / "solutions" / assignment, course / "submitted" / "student" / assignment)
    start = time.perf_counter()
    subprocess.run([*nbgrader, "autograde", assignment], cwd=course, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="the git revision to compare with (default HEAD)")
    parser.add_argument("--rounds", type=positive_int, default=2)
    args = parser.parse_args()
    known = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{args.against}^{{commit}}"], cwd=ROOT,
                           capture_output=True)
    if known.returncode != 0:
        parser.error(f"--against {args.against!r} is not a git revision of this repository")
    scratch = Path(tempfile.mkdtemp())
    other = scratch / "other"
    subprocess.run(["git", "worktree", "add", "--detach", str(other), args.against], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        for assignment in assignments(ROOT):
            times = {"here": [], args.against: []}
            for _ in range(args.rounds):
                times["here"].append(grade_once(ROOT, assignment, scratch))
                times[args.against].append(grade_once(other, assignment, scratch))
            here, there = statistics.median(times["here"]), statistics.median(times[args.against])
            print(f"{assignment:20s} here {here:6.1f} s   {args.against} {there:6.1f} s   ratio {here / there:.2f}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
