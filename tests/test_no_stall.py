"""Every notebook that shows an explorer, executed whole by `jupyter nbconvert --execute` as an instructor runs it
(live widgets: no grading, no ATTNLAB_NO_FRONT_END), several times in a row: every run must finish.

nbclient once waited out a whole cell timeout on an explorer's cell (912 s for notebook II.2) when the explorers
drew through Output widgets; they now set an Image widget's value instead (see attnlab/widgets.py). A stall came
in about one run in six, so the full check runs each notebook 20 times: ATTNLAB_STALL_RUNS=20 pytest
tests/test_no_stall.py -rP (the passed tests' report gives each notebook's runs and median seconds; II.2 trains
a model live for about 90 s, so its 20 runs take over half an hour)."""
import os
import signal
import statistics
import subprocess
import sys
import time

import nbformat
import pytest

from course import SOLUTIONS, notebooks

RUNS = int(os.environ.get("ATTNLAB_STALL_RUNS", "1"))
# Seconds. The slowest cell is II.2's live training, about 90 s on one core, slower on a loaded machine; an explorer's
# cell takes about one. A stall waits out the whole cell timeout (912 s in the sighting), so this one catches it.
CELL_TIMEOUT = 300
RUN_TIMEOUT = 900  # for the whole run, should nbconvert itself hang
WIDGET_NOTEBOOKS = [path for path in notebooks(SOLUTIONS) if "widgets" in path.read_text()]


def execute(path, executed):
    """Run `jupyter nbconvert --execute` on `path` into `executed`; returns (seconds, return code, output).
    nbconvert runs in a session of its own, killed whole if the run overruns (its kernel, started in a session
    of its own, exits when it sees its parent gone)."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("NBGRADER_EXECUTION", "ATTNLAB_NO_FRONT_END")}  # either would draw plain figures
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}", "--output-dir", str(executed.parent),
               "--output", executed.name, str(path)]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += f"\nkilled after {RUN_TIMEOUT} s"
    return time.perf_counter() - start, process.returncode, output


def widget_models(nb):
    """The model names of the widgets whose state nbclient saved with the executed notebook."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return {model["model_name"] for model in state.values()}


@pytest.mark.slow
@pytest.mark.parametrize("path", WIDGET_NOTEBOOKS, ids=lambda p: p.name)
def test_widget_notebook_runs_to_the_end_every_time(path, tmp_path):
    seconds, failures = [], []
    for run in range(RUNS):
        executed = tmp_path / f"run{run}.ipynb"
        took, returncode, output = execute(path, executed)
        if returncode != 0:
            failures.append(f"run {run + 1} (after {took:.0f} s):\n{output[-2000:]}")
            continue
        seconds.append(took)
        models = widget_models(nbformat.read(executed, 4))
        # the real widget path: the explorer's picture is an Image widget's value, and no Output captured it
        assert "ImageModel" in models and "OutputModel" not in models, models
    print(f"{path.name}: {len(seconds)} of {RUNS} runs finished, median {statistics.median(seconds or [0]):.1f} s")
    assert not failures, f"{len(failures)} of {RUNS} runs did not finish:\n" + "\n".join(failures)
