"""In a real browser, as a student gets the course: run all cells, move each slider, see the view change."""
import pytest

from browser import chromium, copy_release, jupyter_lab, open_and_run_all, require_browser
from course import RELEASE, ROOT

SCREENSHOTS = ROOT / "build" / "screenshots"

# Per notebook, the sliders to move in turn: slider label, arrow presses (negative: to the left), readout before and
# after, the view's title before and after. The notebook runs once for all of its sliders (II.2's run-all takes
# minutes: it trains a model live).
VIEWS = {
    "part0_foundations/01_attention_from_scratch.ipynb": [("width d", 4, "16", "20", "width d = 16", "width d = 20")],
    "part1_depth/05_depth_explorer.ipynb": [("depth", 1, "2", "3", "icqa, depth 2 (zoo)", "icqa, depth 3 (zoo)")],
    "part2_heads/02_training_and_heads_explorer.ipynb": [("layers", 1, "3", "4", "L=3, H=8 (zoo", "L=4, H=8 (zoo"),
                                                          ("heads", -1, "8", "4", "L=4, H=8 (zoo", "L=4, H=4 (zoo")],
}


# A view is an Image widget (an <img> whose src changes with each picture) and its title in an HTML widget.
PICTURE, TITLE = "img.widget-image", ".widget-html-content"
# Milliseconds from Run All to an explorer: II.2 trains a model live for about 90 s (one core) before its explorer.
RUN_ALL_TIMEOUT = 400_000


def wait_for_title(page, cell, text):
    page.wait_for_function("([el, title, text]) => el.querySelector(title)?.textContent.includes(text)",
                           arg=[cell.element_handle(), TITLE, text], timeout=60_000)


def move_slider(page, notebook, label, presses, before, after, text_before, text_after):
    """Move one slider of the explorer and check that its view is redrawn, then take a screenshot."""
    slider = page.locator(f".widget-slider:has(label:text-is('{label}'))").first
    slider.wait_for(state="attached", timeout=RUN_ALL_TIMEOUT)
    cell = page.locator(".jp-Cell", has=slider).first
    wait_for_title(page, cell, text_before)
    cell.scroll_into_view_if_needed()
    images = cell.locator(PICTURE)
    assert images.count() == 1, f"the view shows {images.count()} figures, expected one"
    image_before = images.first.get_attribute("src")
    assert slider.locator(".widget-readout").text_content().strip() == before

    handle = slider.locator(".noUi-handle")
    handle.focus()
    for _ in range(abs(presses)):
        handle.press("ArrowRight" if presses > 0 else "ArrowLeft")
    wait_for_title(page, cell, text_after)
    assert slider.locator(".widget-readout").text_content().strip() == after
    assert images.count() == 1
    image = images.first
    assert image.get_attribute("src") != image_before, "the figure did not change"
    page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle())
    image.scroll_into_view_if_needed()
    image.evaluate("img => img.decode()")  # decoded before the picture is taken, or it comes out blank
    page.wait_for_timeout(1000)
    # The page, not the cell: an element screenshot of a tall output came back blank here.
    page.screenshot(path=SCREENSHOTS / f"{notebook.split('/')[-1].removesuffix('.ipynb')}-{label.replace(' ', '_')}.png")


@pytest.mark.parametrize("notebook", VIEWS, ids=[notebook.split("/")[-1] for notebook in VIEWS])
def test_sliders_redraw_their_view_in_jupyterlab(tmp_path, notebook):
    require_browser()
    root = copy_release(RELEASE, tmp_path / "course")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(root, tmp_path) as base, chromium(tmp_path / "profile") as page:
        open_and_run_all(page, base, notebook)
        for move in VIEWS[notebook]:
            move_slider(page, notebook, *move)


def test_train_live_button_trains_and_shows_the_live_model(tmp_path):
    """The depth explorer's "Train live" button: pick a task, press it, and the view shows the model just
    trained (memorization at depth 2 trains in about a second)."""
    require_browser()
    root = copy_release(RELEASE, tmp_path / "course")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(root, tmp_path) as base, chromium(tmp_path / "profile") as page:
        open_and_run_all(page, base, "part1_depth/05_depth_explorer.ipynb")
        button = page.locator("button.jupyter-button:has-text('Train live')").first
        button.wait_for(state="attached", timeout=RUN_ALL_TIMEOUT)
        cell = page.locator(".jp-Cell", has=button).first
        wait_for_title(page, cell, "icqa, depth 2 (zoo)")
        cell.locator(".widget-dropdown select").first.select_option("memorization")
        wait_for_title(page, cell, "memorization, depth 2 (zoo)")
        zoo_picture = cell.locator(PICTURE).first.get_attribute("src")
        button.click()
        wait_for_title(page, cell, "memorization, depth 2 (trained live)")
        assert cell.locator(PICTURE).count() == 1
        assert cell.locator(PICTURE).first.get_attribute("src") != zoo_picture, "the live model's figure is not shown"
        page.screenshot(path=SCREENSHOTS / "05_depth_explorer-train_live.png")
