"""In a real browser, as a student gets the course: run all cells, move each slider, see the view change."""
import re

from browser import chromium, copy_release, jupyter_lab, open_and_run_all, require_browser
from course import RELEASE, ROOT

SCREENSHOTS = ROOT / "build" / "screenshots"


def slider_view(page, index):
    """The readout and the image of the interactive view that holds slider `index`."""
    widget = page.locator(".widget-interact").nth(index)
    image = widget.locator(".widget-output img")
    image.first.wait_for(state="attached", timeout=90_000)
    widget.scroll_into_view_if_needed()
    assert image.count() == 1, f"the view shows {image.count()} figures, expected one"
    return widget, widget.locator(".widget-readout").first.text_content().strip(), image.first.get_attribute("src")


def move_slider(page, widget, presses):
    handle = widget.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(presses):
        handle.press("ArrowRight")


def wait_for_text(page, widget, text):
    """Wait until the view's printed output contains `text` (views print their figure's title)."""
    page.wait_for_function("([el, text]) => el.querySelector('.widget-output').textContent.includes(text)",
                           arg=[widget.element_handle(), text], timeout=30_000)
    return widget.locator(".widget-output img").first.get_attribute("src")


def test_softmax_scaling_slider_redraws_in_jupyterlab(tmp_path):
    require_browser()
    root = copy_release(RELEASE, tmp_path / "course")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(root, tmp_path) as base, chromium(tmp_path / "profile") as page:
        open_and_run_all(page, base, "part0_foundations/01_attention_from_scratch.ipynb")
        widget, readout, src = slider_view(page, 0)
        assert readout == "16" and "width d = 16" in widget.locator(".widget-output").text_content()
        move_slider(page, widget, 4)
        new_src = wait_for_text(page, widget, "width d = 20")
        assert widget.locator(".widget-readout").first.text_content().strip() == "20"
        assert new_src != src and re.match(r"data:image/png;base64,", new_src)
        widget.screenshot(path=SCREENSHOTS / "softmax_scaling.png")
