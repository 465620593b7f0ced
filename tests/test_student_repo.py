"""The students' copy of the course holds no solutions and no hidden tests, and runs the entry notebook."""
import subprocess
import sys

import pytest

from attnlab import student_repo
from course import ROOT, SOLUTIONS, leaks, secret_lines, student_files


def test_the_scan_knows_the_secrets_and_finds_them_in_solutions():
    secrets = secret_lines()
    assert len(secrets) > 100
    assert leaks(SOLUTIONS), "the scan must find the solutions in solutions/ itself"


def test_the_student_repository_has_the_release_and_no_solutions(tmp_path):
    out = tmp_path / "students"
    result = subprocess.run([sys.executable, "-m", "attnlab.student_repo", str(out)], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert student_files(out) == sorted(student_repo.STUDENT_PATHS)
    assert not list(out.rglob("gradebook.db")) and not (out / "solutions").exists()
    assert sorted(p.name for p in (out / "course").rglob("*.ipynb")) == \
        sorted(p.name for p in (ROOT / "course").rglob("*.ipynb"))
    assert leaks(out) == []


def test_the_student_repository_refuses_an_existing_folder(tmp_path):
    with pytest.raises(ValueError, match="already exists"):
        student_repo.write(tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        student_repo.write(tmp_path / "missing" / "students")
