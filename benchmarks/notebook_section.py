"""Benchmark section 4, the notebooks: time and peak memory of every solution notebook, each measured by
notebook_budget.py in a fresh process (see bench.py)."""
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure_notebook(path):
    """Time and peak memory of one solution notebook, by benchmarks/notebook_budget.py in a fresh process, not
    in this one: it reads the kernel's peak memory from ru_maxrss, and on Linux that survives fork and exec, so
    a kernel started from this process (over a GB by now) would report this process's peak as its own. One
    process per notebook, so that a failing notebook is reported and the others are still measured."""
    script = Path(__file__).with_name("notebook_budget.py")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "notebook.json"
        done = subprocess.run([sys.executable, str(script), "--json", str(out), str(path)], capture_output=True,
                              text=True, env={**os.environ, "ATTNLAB_PROGRESS": "0"})
        if done.returncode == 0:
            return json.loads(out.read_text())[0]
    lines = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", done.stderr).splitlines() if line.strip()]
    return {"notebook": str(path.relative_to(ROOT)), "error": lines[-1] if lines else f"exit status {done.returncode}"}


def notebook_section(report):
    print("\nnotebooks, top to bottom in a fresh kernel (the course's budget: 180 s, 1536 MB):")
    report["notebooks"] = []
    for path in sorted((ROOT / "solutions").rglob("*.ipynb")):
        row = measure_notebook(path)
        report["notebooks"].append(row)
        if "error" in row:
            print(f"  {row['notebook']:58s} FAILED: {row['error'][:200]}", flush=True)
        else:
            print(f"  {row['notebook']:58s} {row['seconds']:7.1f} s {row['peak_mb']:6d} MB  "
                  f"{'within budget' if row['within_budget'] else 'OVER BUDGET'}", flush=True)
