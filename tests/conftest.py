import os
import shutil
import tempfile

import pytest

# Tests never draw progress bars and always use one CPU thread (the library default), whatever the shell says.
os.environ["ATTNLAB_PROGRESS"] = "0"
os.environ.setdefault("ATTNLAB_DEVICE", "cpu")

# The suite runs II.2 four ways (nbval, the website, the no-stall check, the browser), and each run would train its
# live model again (a minute and a half of CPU): heads.live_model keeps it in this folder, so the first run trains
# and the others take that model. Made by the process that starts pytest; its workers and every kernel inherit it.
LIVE_CACHE = None if "ATTNLAB_LIVE_CACHE" in os.environ else tempfile.mkdtemp(prefix="attnlab-live-")
if LIVE_CACHE:
    os.environ["ATTNLAB_LIVE_CACHE"] = LIVE_CACHE


def pytest_unconfigure(config):
    if LIVE_CACHE:
        shutil.rmtree(LIVE_CACHE, ignore_errors=True)

# What makes `pytest` slow, in one place: the files that run nbgrader, a hub, a browser, a website build or a fresh
# environment, and the executions of whole notebooks. `pytest -m "not slow"` leaves them out (the inner loop of
# a change to the library); `pytest` runs everything, these first, so that the longest start while the
# short ones fill the other workers (pytest-xdist hands out one file at a time, in this order).
SLOW_FILES = ("test_grading.py", "test_hostile_grading.py", "test_browser.py", "test_website.py", "test_binder.py",
              "test_class_grading.py", "test_hub.py", "test_release.py", "test_instructor_guide.py",
              "test_no_stall.py")
SLOW_TESTS = ("test_widget_notebooks_never_stall",)  # a test that executes whole notebooks, in a fast file


def is_slow(item):
    return (item.path.name in SLOW_FILES or item.path.suffix == ".ipynb"
            or item.name.startswith(SLOW_TESTS) or item.get_closest_marker("slow") is not None)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)
    order = {name: rank for rank, name in enumerate(SLOW_FILES)}
    slow_files = {item.path for item in items if is_slow(item)}
    # SLOW_FILES in their order, then the other files with slow tests (whole notebooks), then the rest: the quick
    # files come last and even out the workers' ends. A stable sort keeps each file's tests together and in their own
    # order (nbval needs a notebook's cells in order); pytest's options keep xdist from re-sorting the files by their
    # number of tests (--no-loadscope-reorder).
    items.sort(key=lambda item: order.get(item.path.name, len(order) + (item.path not in slow_files)))


@pytest.fixture(autouse=True)
def no_figure_outlives_its_test():
    """A figure a test leaves open would fail a later test that checks the course closes its own (test_widgets),
    but only when the two share a worker: close them all after every test, so that order never matters."""
    yield
    import matplotlib.pyplot as plt
    plt.close("all")
