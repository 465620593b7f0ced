"""What the course tests share: where things are, and a scratch copy of the course for nbgrader to work in."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, RELEASE = ROOT / "solutions", ROOT / "course"


def assignments():
    """Every assignment (a folder of notebooks under solutions/), found rather than listed by hand."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def notebooks(folder):
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def scratch_course(tmp_path):
    """A copy of what nbgrader needs (config and sources), so tests never touch the checkout."""
    course = tmp_path / "course_root"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(SOLUTIONS, course / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return course


def nbgrader(course, *args, timeout=1800):
    """Run one of nbgrader's own commands in `course`, as an instructor would type it."""
    env = dict(os.environ, ATTNLAB_PROGRESS="0")
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result
