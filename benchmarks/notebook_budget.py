"""Time and peak memory of every solution notebook, executed top to bottom in a fresh kernel.

    python benchmarks/notebook_budget.py [--json out.json] [notebook ...]

The course's budgets: 3 minutes and 1.5 GB of peak kernel memory per notebook. The peak is the kernel
process's own maximum resident set size, read inside the kernel after the last cell.
"""
import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
# attnlab.cli's argument checks, loaded from its file so that this process never imports attnlab (and torch): on
# Linux a peak resident size survives fork and exec, so the kernels started here would report ours as theirs.
_spec = importlib.util.spec_from_file_location("attnlab_cli", ROOT / "lib" / "attnlab" / "cli.py")
cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cli)
BUDGET_SECONDS, BUDGET_MB = 180, 1536
PEAK_CELL = "import resource, sys\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 if sys.platform != 'darwin' else 1024) / 1024)"


def measure(path):
    nb = nbformat.read(path, 4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    peak_mb = float(nb.cells[-1].outputs[0]["text"])
    return {"notebook": str(path.relative_to(ROOT)), "seconds": round(seconds, 1), "peak_mb": round(peak_mb),
            "within_budget": seconds <= BUDGET_SECONDS and peak_mb <= BUDGET_MB}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=cli.existing_notebook, help="default: every solution notebook")
    parser.add_argument("--json", type=cli.output_file, help="also write the rows here (checked before any work)")
    args = parser.parse_args()
    os.environ.setdefault("ATTNLAB_PROGRESS", "0")  # bars only add noise to a measurement
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "solutions").rglob("*.ipynb"))
    rows = []
    print(f"{'notebook':60s} {'seconds':>8s} {'peak MB':>8s}  within budget ({BUDGET_SECONDS} s, {BUDGET_MB} MB)")
    for path in paths:
        rows.append(measure(path))
        row = rows[-1]
        print(f"{row['notebook']:60s} {row['seconds']:8.1f} {row['peak_mb']:8d}  {'yes' if row['within_budget'] else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
