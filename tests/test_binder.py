"""Binder's environment, built as far as this machine allows, runs the course.

A fresh virtual environment is made from binder/ alone, and binder/postBuild runs in a copy of the repository
as Binder would build it (its files as git sees them), which it prunes to the students' files. The CPU torch
wheel on this machine's disk stands in for the CPU wheel index that binder/requirements.txt names (there is
no internet here).
"""
import os
import shutil
import subprocess
import sys

import nbformat

from attnlab.student_repo import STUDENT_PATHS
from course import ROOT, SOLUTIONS, leaks, printed, student_files

# The entry notebook with its answers filled in, so that every cell must run.
ENTRY_NOTEBOOK = SOLUTIONS / "part0_foundations" / "01_attention_from_scratch.ipynb"


def run(*command, cwd=ROOT):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_binder_environment_builds_and_runs_a_notebook(tmp_path):
    requirements = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("torch==") and "+cpu" in line for line in requirements), "Binder must get the CPU torch"
    offline = [line for line in requirements if not line.startswith("--extra-index-url")]
    (tmp_path / "requirements.txt").write_text("\n".join(offline))

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    # --no-compile: Python compiles what the notebook imports as it goes; compiling all of torch first would take
    # 20 s of CPU from the tests beside this one (measured), and proves nothing about the environment.
    run(python, "-m", "pip", "install", "--quiet", "--no-compile", "-r", tmp_path / "requirements.txt")
    repo = tmp_path / "repo"
    listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z").stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    run("env", f"PATH={venv / 'bin'}:/usr/bin:/bin", f"HOME={os.environ.get('HOME', '/root')}", "ATTNLAB_STUDENT_IMAGE=1",
        "bash", repo / "binder" / "postBuild", cwd=repo)
    assert student_files(repo) == sorted(STUDENT_PATHS), "postBuild left instructor files behind"
    assert not (repo / "solutions").exists() and leaks(repo) == []

    # The entry notebook, plus a cell that says which Python ran it.
    nb = nbformat.read(ENTRY_NOTEBOOK, 4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys, torch, attnlab\nprint(sys.prefix, torch.__version__, attnlab.__file__)"))
    notebook = tmp_path / "entry.ipynb"
    nbformat.write(nb, notebook)
    # Headless, so the explorer draws a plain figure: nbclient can wait forever on a live widget's messages.
    run("env", "ATTNLAB_NO_FRONT_END=1", venv / "bin" / "jupyter", "nbconvert", "--to", "notebook", "--execute",
        "--ExecutePreprocessor.timeout=300", "--output", "executed.ipynb", notebook, cwd=tmp_path)
    executed = nbformat.read(tmp_path / "executed.ipynb", 4)
    prefix, torch_version, library = printed(executed.cells[-1].outputs).split()
    assert prefix == str(venv) and torch_version.endswith("+cpu") and library.startswith(str(repo))
