"""Write the students' copy of the course: `python -m attnlab.student_repo OUT` from a checkout.

The course's repository is public and holds the instructor's side: `solutions/` (solutions and hidden tests),
the tests that read them and nbgrader's gradebook. A graded class gets this copy instead: the release
(`course/`), the library, the Binder environment and the files that install them. Binder's build prunes its
image to the same set (`binder/postBuild`).
"""
import argparse
import shutil
from pathlib import Path

STUDENT_PATHS = ("course", "lib", "binder", "README.md", "requirements.txt", "pyproject.toml")
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints", "gradebook.db")


def checkout_root():
    """The repository this library was installed from (an editable install of a checkout)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "solutions").is_dir() or not (root / "course").is_dir():
        raise ValueError(f"{root} is not a checkout of the course (no solutions/ and course/ beside lib/): "
                         "run this from an editable install of the repository (pip install -e .)")
    return root


def write(out, root=None):
    """Copy the students' files from `root` (default: this checkout) into `out`, which must not exist yet."""
    root = Path(root) if root is not None else checkout_root()
    out = Path(out)
    if out.exists():
        raise ValueError(f"{out} already exists: give a new folder, so that nothing of yours is overwritten")
    if not out.parent.is_dir():
        raise ValueError(f"{out.parent} is not a folder: the student repository goes into an existing folder")
    out.mkdir()
    for name in STUDENT_PATHS:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=LEFT_OUT)
        else:
            shutil.copy2(source, out / name)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m attnlab.student_repo", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="a new folder for the students' repository")
    args = parser.parse_args(argv)
    try:
        out = write(args.out)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote the students' repository to {out}: {', '.join(STUDENT_PATHS)}; push it to a repository of its own")


if __name__ == "__main__":
    main()
