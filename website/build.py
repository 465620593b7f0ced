"""Build the course website offline: a page for every release notebook, with the figures a student will see.

    python website/build.py [--out DIR] [--jobs N]

course/ holds no outputs, so the solution notebooks are executed (explorers drawn as plain figures), and each
page is the release notebook, cell for cell, with its solution twin's outputs, none from answer or test cells:
no page shows solution code or hidden tests. Jupyter Book 1 (version 2 fetches its theme online) then builds
the HTML, warnings as errors, into DIR/html (default DIR: website/_build).
"""
import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
WEBSITE, SOLUTIONS, RELEASE = ROOT / "website", ROOT / "solutions", ROOT / "course"
BOOK_FILES = ("_config.yml", "_toc.yml", "intro.md")
MARKER = ".course-website"  # marks a folder as a build of ours, which a rebuild may replace
CELL_TIMEOUT = 300  # seconds, as for the notebook tests (nbval): room for a busy machine


def library_module(name):
    """A module of lib/attnlab loaded from its file: importing attnlab would import torch into every worker."""
    spec = importlib.util.spec_from_file_location(f"attnlab_{name}", ROOT / "lib" / "attnlab" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cli, links = library_module("cli"), library_module("links")  # argument checks; where the course lives


def output_folder(text):
    """--out: a new or empty folder, or an earlier build (never a folder of other files, which a build would
    mix with its own), outside the course's sources, and writable. Checked before minutes of execution."""
    path = Path(text).resolve()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file: give a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
        raise argparse.ArgumentTypeError(f"{path} holds other files: give a new or empty folder, or an earlier build")
    if any(path.is_relative_to(ROOT / source) for source in ("course", "solutions", "lib")):
        raise argparse.ArgumentTypeError(f"{path} is inside the course's sources: give a folder elsewhere")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write to {path}: {error.strerror or error}") from None
    return path


def execute(solution):
    """The solution notebook at `solution`, executed top to bottom in a fresh kernel in its own folder: (its JSON,
    the seconds it took). JSON, because a string pickles across processes whatever nbformat's classes."""
    start = time.perf_counter()
    notebook = nbformat.read(solution, 4)
    # The kernel's log at ERROR: its warning that it talks over local TCP unencrypted, once per notebook, is noise.
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(solution.parent)}})
    try:
        client.execute()
    except Exception as error:  # nbclient's errors do not pickle back to the parent process
        raise RuntimeError(f"{solution.relative_to(ROOT)} failed:\n{error}") from None
    return nbformat.writes(notebook), time.perf_counter() - start


def nbgrader(cell):
    """A cell's nbgrader metadata ({} for a cell nbgrader does not track)."""
    return cell.metadata.get("nbgrader", {})


def hides_output(cell):
    """An answer cell (its output could give the answer away) or a test cell (its output could quote a test)."""
    return bool(nbgrader(cell).get("solution") or nbgrader(cell).get("grade"))


def joined_streams(outputs):
    """The outputs with consecutive pieces of one stream joined. The kernel sends what a cell prints on a timer,
    and print() writes each argument on its own, so one line can arrive in two pieces: a page would show two
    blocks, the line broken between them."""
    joined = []
    for output in outputs:
        previous = joined[-1] if joined else {}
        if output.output_type == "stream" and previous.get("output_type") == "stream" and previous.name == output.name:
            previous.text += output.text
        else:
            joined.append(output)
    return joined


def page(release, solution):
    """The release notebook with the executed solution's outputs: cells correspond one to one (nbgrader keeps
    every cell, in order, and only rewrites answers and hidden tests), which is checked here."""
    shape = [(cell.cell_type, nbgrader(cell).get("grade_id")) for cell in release.cells]
    if shape != [(cell.cell_type, nbgrader(cell).get("grade_id")) for cell in solution.cells]:
        raise SystemExit("course/ does not match solutions/: run nbgrader generate_assignment (see README.md)")
    for shown, ran in zip(release.cells, solution.cells):
        if shown.cell_type != "code":
            continue
        if hides_output(ran):
            shown.outputs, shown.execution_count = [], None
        elif shown.source != ran.source:
            raise SystemExit(f"a cell of course/ differs from its solution ({nbgrader(ran).get('grade_id')}): "
                             "run nbgrader generate_assignment (see README.md)")
        else:
            shown.outputs, shown.execution_count = joined_streams(ran.outputs), ran.execution_count
    return release


def syllabus_entry(name, seconds):
    """The landing page's line for the notebook `name` (a path in course/ without .ipynb): its link, then what its
    first cell says it teaches, how long it takes a student and its exercises, and how long it ran in this build.
    Taken from the notebook itself, so the syllabus cannot drift from the course."""
    opening = nbformat.read(RELEASE / f"{name}.ipynb", 4).cells[0].source
    goals = re.search(r"\*\*You will learn to\*\*\n((?:- .*\n?)+)", opening)
    time_and_exercises = re.search(r"\*\*Time:\*\* about (\d+) minutes\. \*\*Graded exercises:\*\* (\d+) \((\d+) points\)",
                                   opening)
    if not goals or not time_and_exercises:
        raise SystemExit(f"course/{name}.ipynb: its first cell needs a '**You will learn to**' list and a line "
                         "'**Time:** about M minutes. **Graded exercises:** N (P points)'")
    minutes, exercises, points = time_and_exercises.groups()
    learn = "; ".join(line[2:].rstrip(";.") for line in goals[1].strip().splitlines())
    return (f"- {{doc}}`{name}`: about {minutes} minutes; {exercises} graded exercises ({points} points); its code "
            f"ran in {seconds:.0f} s when this site was built ({os.cpu_count()} CPU cores).\n  You will learn to {learn}.")


def stage_book(source, seconds):
    """website/'s book files in `source`, with the repository filled in from attnlab/links.py, and each notebook's
    line of the landing page's syllabus (`- {doc}` lines) written out from the notebook (see syllabus_entry).
    seconds: {notebook name: seconds its solution ran in this build}."""
    for name in BOOK_FILES:
        shutil.copy(WEBSITE / name, source / name)
    shutil.copytree(WEBSITE / "_static", source / "_static")  # the course's CSS, which Jupyter Book links on every page
    intro = (source / "intro.md").read_text()
    (source / "intro.md").write_text(re.sub(r"^- \{doc\}`([\w/]+)`$", lambda m: syllabus_entry(m[1], seconds[m[1]]),
                                            intro, flags=re.M))
    url = f"https://github.com/{links.REPOSITORY}"
    config = yaml.safe_load((source / "_config.yml").read_text())
    config["repository"] = {"url": url, "branch": links.BRANCH, "path_to_book": "course"}  # pages mirror course/
    config.setdefault("parse", {})["myst_substitutions"] = {"repository": f"[the repository]({url})"}
    (source / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))


def stage_pages(source, jobs, progress):
    """A page for every release notebook in `source`, from its solution executed in `jobs` processes; returns
    {notebook name: seconds it ran}."""
    releases = sorted(p.relative_to(RELEASE) for p in RELEASE.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    for name in releases:  # a stale release fails now, before minutes of execution
        page(nbformat.read(RELEASE / name, 4), nbformat.read(SOLUTIONS / name, 4))
    with ProcessPoolExecutor(jobs) as pool, tqdm(total=len(releases), unit="notebook", disable=not progress) as bar:
        running = {pool.submit(execute, SOLUTIONS / name): name for name in releases}
        seconds = {}
        try:
            for done in as_completed(running):
                name = running[done]
                executed, seconds[name.with_suffix("").as_posix()] = done.result()
                built = page(nbformat.read(RELEASE / name, 4), nbformat.reads(executed, 4))
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(built, source / name)
                bar.set_postfix_str(name.stem)
                bar.update()
        except BaseException:
            pool.shutdown(cancel_futures=True)  # stop at the first failure rather than run the rest
            raise
    return seconds


def jupyter_book(source, out):
    """Build the HTML of the book in `source` into out/html (Jupyter Book's own files go to out/_build); any
    warning fails the build, after all of them are reported. Jupyter Book's command is run by this Python
    (jupyter_book has no __main__), quiet but for warnings and errors."""
    book = subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
                           str(source), "--path-output", str(out), "--all", "--warningiserror", "--keep-going", "-q"],
                          stdout=subprocess.DEVNULL)  # its closing banner names the folder before the move below
    if book.returncode:
        raise SystemExit("jupyter-book failed (warnings count as errors): see its messages above")
    shutil.rmtree(out / "html", ignore_errors=True)
    (out / "_build" / "html").rename(out / "html")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The default is a string, so that argparse checks it too.
    parser.add_argument("--out", type=output_folder, default=str(WEBSITE / "_build"),
                        help="the build folder; the site lands in OUT/html (default: website/_build)")
    parser.add_argument("--jobs", type=cli.positive_int, default=2, help="notebooks executed at once (default: 2)")
    args = parser.parse_args()
    progress = os.environ.get("ATTNLAB_PROGRESS") != "0"
    # The kernels inherit these: explorers draw plain figures (a static page cannot show a widget's state), and no
    # progress bars.
    os.environ.update(ATTNLAB_NO_FRONT_END="1", ATTNLAB_PROGRESS="0")
    start = time.perf_counter()
    source = args.out / "source"
    shutil.rmtree(source, ignore_errors=True)  # a notebook removed from course/ leaves no page behind
    source.mkdir()
    (args.out / MARKER).touch()
    seconds = stage_pages(source, args.jobs, progress)
    stage_book(source, seconds)
    executed = time.perf_counter()
    print(f"executed {len(seconds)} notebooks in {executed - start:.0f} s", flush=True)
    jupyter_book(source, args.out)
    end = time.perf_counter()
    print(f"jupyter-book built the pages in {end - executed:.0f} s; the website took {end - start:.0f} s in all:\n"
          f"  {args.out / 'html' / 'index.html'}")


if __name__ == "__main__":
    main()
