"""Binder's environment, built as far as this machine allows, runs the course.

A fresh virtual environment is made from binder/ alone. The CPU torch wheel on this machine's disk stands
in for the CPU wheel index that binder/requirements.txt names (there is no internet here).
"""
import subprocess
import sys

import nbformat

from course import ROOT, SOLUTIONS

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
    run(python, "-m", "pip", "install", "--quiet", "-r", tmp_path / "requirements.txt")
    run("env", f"PATH={venv / 'bin'}:/usr/bin:/bin", "bash", ROOT / "binder" / "postBuild")

    # The entry notebook, plus a cell that says which Python ran it.
    nb = nbformat.read(ENTRY_NOTEBOOK, 4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys, torch, attnlab\nprint(sys.prefix, torch.__version__, attnlab.__file__)"))
    notebook = tmp_path / "entry.ipynb"
    nbformat.write(nb, notebook)
    run(venv / "bin" / "jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb",
        notebook, cwd=tmp_path)
    executed = nbformat.read(tmp_path / "executed.ipynb", 4)
    prefix, torch_version, library = executed.cells[-1].outputs[0]["text"].split()
    assert prefix == str(venv) and torch_version.endswith("+cpu") and library.startswith(str(ROOT))
