"""The one place that says where the course lives: every notebook's badges and Colab set-up come from here.

A fork sets its own REPOSITORY (and BRANCH) below, then runs, from its checkout,

    python -m attnlab.links

which rewrites the badge line and the set-up cell of every notebook in solutions/ and regenerates course/ with
nbgrader (`nbgrader generate_assignment --force`, for each part).
"""
import argparse
import subprocess
import sys

import nbformat

REPOSITORY = "attnlab/transformers-from-the-inside"  # GitHub owner/name
BRANCH = "main"
INSTALL = f"attnlab @ git+https://github.com/{REPOSITORY}@{BRANCH}"  # what the Colab set-up cell installs


def colab_url(notebook):
    """notebook: a path from the repository root, such as course/part0_foundations/01_attention_from_scratch.ipynb."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{notebook}"


def binder_url(notebook):
    return f"https://mybinder.org/v2/gh/{REPOSITORY}/{BRANCH}?labpath={notebook}"


def badges(notebook):
    """The markdown line of badges that opens every notebook."""
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)}) "
            f"[![Launch Binder](https://mybinder.org/badge_logo.svg)]({binder_url(notebook)})")


SETUP_CELL = f'''# Set-up. On Colab this installs the course library (Colab already has torch); elsewhere it does nothing.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "{INSTALL}"'''


def set_notebook_heads(notebook, released_as):
    """Give a notebook (nbformat's) the badges of `released_as` in its first cell, in place of its line of badges,
    and the set-up cell as its second; returns whether anything changed."""
    title, setup = notebook.cells[0], notebook.cells[1]
    lines = title.source.split("\n")
    badge_lines = [i for i, line in enumerate(lines) if line.startswith("[![Open in Colab]")]
    if len(badge_lines) != 1 or setup.cell_type != "code":
        raise ValueError(f"{released_as} must open with a markdown cell holding one line of badges, then the set-up "
                         f"code cell; found {len(badge_lines)} badge lines and a {setup.cell_type} cell")
    lines[badge_lines[0]] = badges(released_as)
    old = title.source, setup.source
    title.source, setup.source = "\n".join(lines), SETUP_CELL
    return (title.source, setup.source) != old


def main(argv=None):
    argparse.ArgumentParser(description="Rewrite every notebook's badges and set-up cell from REPOSITORY and BRANCH, "
                            "then regenerate course/.").parse_args(argv)
    from .student_repo import checkout_root  # here: website/build.py loads this file alone, outside the package

    root = checkout_root()
    solutions = root / "solutions"
    paths = sorted(solutions.glob("*/*.ipynb"))  # solutions/<part>/<notebook>.ipynb
    for path in paths:
        notebook = nbformat.read(path, 4)
        if set_notebook_heads(notebook, f"course/{path.relative_to(solutions)}"):
            nbformat.write(notebook, path)
            print(f"rewrote {path.relative_to(root)}")
    for part in sorted({path.parent.name for path in paths}):
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", part, "--force"], cwd=root, check=True)


if __name__ == "__main__":
    main()
