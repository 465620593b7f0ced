"""The README's grading steps, exactly as written, in a fresh clone of the repository (of its last commit):
no gradebook is in git, so the steps must create it themselves."""
import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from course import ROOT, is_test, is_written, notebooks, points


def readme_commands(heading):
    """The commands of the first bash block after the README paragraph that starts with `heading`."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text[text.index(heading):], re.S)[1]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_the_readme_grading_steps_work_in_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True)
    assert not (clone / "gradebook.db").exists()
    # One student's finished notebooks, where the README says to put them.
    shutil.copytree(clone / "solutions" / "part0_foundations", clone / "submitted" / "ada" / "part0_foundations")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", ATTNLAB_PROGRESS="0")
    commands = readme_commands("**Grade, give feedback, export.**")
    assert commands[0].startswith("nbgrader generate_assignment") and "nbgrader autograde part0_foundations" in commands
    for command in commands:
        result = subprocess.run(command, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{command} failed in a fresh clone:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    cells = [cell for path in notebooks(clone / "solutions" / "part0_foundations")
             for cell in nbformat.read(path, 4).cells]
    tests, written = points(filter(is_test, cells)), points(filter(is_written, cells))
    rows = list(csv.DictReader((clone / "grades.csv").open()))
    # Full marks from autograding; the written answers count 0 until graded by hand, and wait for it.
    assert [(row["student_id"], row["assignment"], float(row["score"]), float(row["max_score"]))
            for row in rows] == [("ada", "part0_foundations", float(tests), float(tests + written))]
    with Gradebook(f"sqlite:///{clone / 'gradebook.db'}") as gradebook:
        assert gradebook.find_submission("part0_foundations", "ada").needs_manual_grade == (written > 0)
    assert (clone / "feedback" / "ada" / "part0_foundations" / "01_attention_from_scratch.html").exists()
