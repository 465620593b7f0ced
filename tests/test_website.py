"""The course website (website/build.py): built once, offline, warnings as errors; a page with figures for every
release notebook, a landing page that links them all, and no solution code or hidden test in any file."""
import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from course import RELEASE, ROOT, leaks, notebooks, printed, secret_lines

_spec = importlib.util.spec_from_file_location("website_build", ROOT / "website" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)
MARKERS = {"### BEGIN HIDDEN TESTS", "### BEGIN SOLUTION"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The website, built by its own command; yields its HTML folder."""
    out = tmp_path_factory.mktemp("website")
    done = subprocess.run([sys.executable, "website/build.py", "--out", str(out)], cwd=ROOT, text=True,
                          capture_output=True, env=dict(os.environ, ATTNLAB_PROGRESS="0"), timeout=900)
    assert done.returncode == 0, f"the website's build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return out / "html"


def page_of(notebook):
    return Path(*notebook.relative_to(RELEASE).parts).with_suffix(".html")


def words(line):
    """A line as its words alone, so that a line reads the same in a notebook's source and rendered in HTML
    (markup, highlighting spans, entities, bold's stars and a list item's dash or number all fall away)."""
    return " ".join(re.findall(r"\w+", re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line)))


def visible_text(path):
    """What a reader can see in a built file: an HTML page without its tags; a notebook's cell sources and
    outputs (leaks() reads sources only, and an output, a traceback above all, could quote a test)."""
    text = path.read_text(errors="ignore")
    if path.suffix == ".ipynb":
        parts = []
        for cell in nbformat.reads(text, 4).cells:
            parts.append(cell.source)
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                parts += [output.get("text", ""), *output.get("traceback", []), data.get("text/plain", ""),
                          data.get("text/html", "")]
        text = "\n".join(parts)
    return html.unescape(re.sub(r"<[^>]+>|\x1b\[[0-9;]*m", "", text))  # tags and terminal colours


def rendered_leaks(folder):
    """(file, secret line) for every line of a solution or hidden test, or an nbgrader marker, that a reader
    could see in an HTML page or notebook under `folder`, compared word for word."""
    secrets = {words(line): line for line in secret_lines() | MARKERS}
    found = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.suffix in (".html", ".ipynb")):
        seen = {words(line) for line in visible_text(path).splitlines()}
        found += [(path, secrets[line]) for line in sorted(seen & secrets.keys())]
    return found


def test_every_notebook_has_a_page_with_figures(site):
    for notebook in notebooks(RELEASE):
        page = site / page_of(notebook)
        assert page.is_file(), f"no page for {notebook.relative_to(ROOT)}"
        figures = [src for src in re.findall(r'<img[^>]*src="([^"]+)"', page.read_text()) if "_images/" in src]
        assert figures, f"{page.relative_to(site)} shows no figure"
        for src in figures:
            assert (page.parent / src).stat().st_size > 1000, f"{page.relative_to(site)}: empty figure {src}"


def test_the_landing_page_links_every_notebook(site):
    landing = site / "intro.html"
    links = {(landing.parent / href.split("#")[0]).resolve()
             for href in re.findall(r'href="([^"]+)"', landing.read_text()) if "://" not in href}
    missing = [str(page_of(nb)) for nb in notebooks(RELEASE) if (site / page_of(nb)).resolve() not in links]
    assert not missing, f"the landing page does not link {missing}"


def test_the_landing_page_has_a_syllabus_from_the_notebooks_and_prerequisites(site):
    """Each notebook's line: its time and exercises as its first cell states them, what it teaches, and how long it
    ran in this build; and what a student should know before starting."""
    landing = visible_text(site / "intro.html")
    assert "Before you start" in landing and "PyTorch" in landing
    for notebook in notebooks(RELEASE):
        opening = nbformat.read(notebook, 4).cells[0].source
        minutes, exercises, points = re.search(r"about (\d+) minutes\. \*\*Graded exercises:\*\* (\d+) \((\d+) points",
                                               opening).groups()
        first_goal = re.search(r"\*\*You will learn to\*\*\n- (.*?);?\n", opening)[1]
        title = opening.splitlines()[0].lstrip("# ")
        line = re.search(rf"{re.escape(title)}: about {minutes} minutes; {exercises} graded exercises \({points} points\); its code ran in "
                         rf"(\d+) s when this site was built.*?\n.*?You will learn to (.*)", landing)
        assert line, f"no syllabus line for {notebook.name}"
        assert words(first_goal) in words(line[2]), f"{notebook.name}: its goals are not on the landing page"


def test_long_code_lines_wrap_on_every_page(site):
    css = (site / "_static" / "course.css").read_text()
    assert "pre-wrap" in css
    for notebook in notebooks(RELEASE):
        assert "_static/course.css" in (site / page_of(notebook)).read_text(), f"{notebook.name}: no course.css"


# Sentences of the notebooks that state what a measurement shows, each with the printed line it rests on: (notebook,
# the sentence, a pattern over the notebook's printed output whose groups are the numbers, the condition on them
# that the sentence asserts). The site's pages hold a run's outputs, so a sentence cannot drift from its number.
# What Part I's notebooks print of their depth sweep, and of which answers follow the fixed map (I.4).
SWEEP = r"\s*".join(rf"depth {d}: test accuracy ([\d.]+)%" for d in range(1, 5))
FIXED_MAP = r"\s*".join(rf"depth {d}: answers with the fixed map on (\d+)% of test prompts, right on (\d+)%"
                        for d in range(1, 5))
CLAIMS = [
    ("part1_depth/01_memorization", "it gives most of its weight to one position",
     r"largest weight: mean ([\d.]+), lowest [\d.]+ \(spread evenly, every weight would be ([\d.]+)\)",
     lambda mean, even: mean > 0.5 and mean > 3 * even),
    ("part1_depth/01_memorization", "The last token moves the most answers",
     r"favours: (\d+)% .*\n.*least: (\d+)% .*\n.*its own\): (\d+)%", lambda favoured, least, last: last > favoured > least),
    ("part1_depth/01_memorization", "So the most decisive position is the last one, which the attention favours in "
     "none of the sequences", r"counted over the set: \[[\d, ]*?(\d+)\]\n(?s:.*)the most decisive position: (\d+) of "
     r"(\d+)", lambda last_count, position, length: position == length and last_count == 0),
    ("part1_depth/01_memorization", "changing the token the last position favours changes more answers than changing "
     "the one it attends to least", r"favours: (\d+)% .*\n.*least: (\d+)%", lambda favoured, least: favoured > least),
    ("part1_depth/02_reasoning", "One layer does not look at the query's question at all: nearly all its weight goes to "
     "the answers, spread about evenly, so the right one gets about one part in four",
     r"depth 1, its last layer: ([\d.]+) of the last position's weight on the questions, ([\d.]+) on the answers, "
     r"([\d.]+) on the right answer \(chance: ([\d.]+)\)",
     lambda questions, answers, right, chance: questions < 0.05 and answers > 0.9 and abs(right - chance) < 0.05),
    ("part1_depth/02_reasoning", "Two layers put nearly all their last layer's weight on the right answer",
     r"depth 2, its last layer: [\d.]+ of the last position's weight on the questions, [\d.]+ on the answers, "
     r"([\d.]+) on the right answer", lambda right: right > 0.95),
    ("part1_depth/01_memorization", "Every depth stores the set, one layer included", SWEEP,
     lambda *accuracies: min(accuracies) >= 99),
    ("part1_depth/02_reasoning", "One layer stays near chance; two layers and more answer almost every prompt",
     r"chance: (\d+)%(?s:.*)" + SWEEP, lambda chance, one, *deeper: one <= chance + 10 and min(deeper) >= 95),
    ("part1_depth/03_generalization", "Both sit well above chance and far below two layers: one layer found a partial "
     "rule, and a rule that hardly depends on which tokens fill the template",
     r"depth 2: test accuracy ([\d.]+)%(?s:.*)depth 1: ([\d.]+)% on training tokens, ([\d.]+)% on unseen tokens "
     r"\(chance ([\d.]+)%\)", lambda two, seen, unseen, chance:
     min(seen, unseen) > chance + 15 and max(seen, unseen) < two - 25 and abs(seen - unseen) < 10),
    ("part1_depth/04_contextual_generalization", "Depth 1 answers with the fixed map on every test prompt",
     FIXED_MAP, lambda fixed_1, right_1, fixed_2, right_2, fixed_3, right_3, fixed_4, right_4:
     fixed_1 == 100 and abs(right_1 - 100 / 3) < 5),
    ("part1_depth/04_contextual_generalization", "The deep ones follow the fixed map only as often as a prompt's map "
     "agrees with it by chance", FIXED_MAP, lambda f1, r1, f2, r2, fixed_3, r3, fixed_4, r4: max(fixed_3, fixed_4) < 45),
    ("part1_depth/04_contextual_generalization", "Depth 2 is in between: it follows the fixed map on most prompts, and "
     "yet it is right well above chance", FIXED_MAP, lambda f1, r1, fixed_2, right_2, f3, r3, f4, r4:
     fixed_2 > 50 and right_2 > 100 / 3 + 10),
    ("part1_depth/04_contextual_generalization", "The answer follows the summaries read at the other positions, the "
     "matched examples' ends, far more often than the query's own",
     r"patched at every position but the query: follows the renamed labels (\d+)%\s*"
     r"patched at the query only: +follows the renamed labels (\d+)%", lambda elsewhere, own: elsewhere > 3 * own),
    *[(f"part1_depth/{notebook}", "the two agree to within a point or so",
       r"test accuracy ([\d.]+)%; the zoo's model: ([\d.]+)%", lambda live, zoo: abs(live - zoo) <= 2)
      for notebook in ("01_memorization", "02_reasoning", "03_generalization", "04_contextual_generalization")],
    ("part1_depth/03_generalization", "most of layer 1's weight goes to earlier positions holding the *other* token",
     r"([\d.]+) of the weight on earlier copies of the same token, ([\d.]+) on the other token",
     lambda same, other: other > 0.5 and other > 3 * same),
    ("part1_depth/03_generalization", "Layer 2, at `=`, reads it mostly from x4's position",
     r"layer 2 at '=': ([\d.]+) of the weight on x4", lambda weight: weight > 0.5),
    ("part1_depth/03_generalization", "leave every test token's exactly where it started",
     r"moved [\d.]+ on average \((\d+)% of them at all\); test tokens' at most ([\d.]+)",
     lambda share_moved, unseen: share_moved == 100 and unseen == 0),
    ("part1_depth/03_generalization", "Without layer 1 the model is at chance",
     r"([\d.]+)% without layer 1, ([\d.]+)% without layer 2 \(chance ([\d.]+)%; depth 1: ([\d.]+)%\)",
     lambda without_1, without_2, chance, depth_1: abs(without_1 - chance) < 5 and chance + 5 < without_2 < depth_1),
    ("part1_depth/05_depth_explorer", "At its threshold depth, every layer of every task's model is essential",
     r"every layer essential: at the threshold depth in (\d) of (\d) tasks; at depth 4 in (\d) \(in_context_template\)",
     lambda at_threshold, tasks, at_four: at_threshold == tasks == 4 and at_four == 1),
    ("part1_depth/04_contextual_generalization", "Depth 1 never follows the renaming",
     r"depth 1: the answer follows the renamed labels on (\d+)%(?s:.*)depth 2: the answer follows the renamed labels on "
     r"(\d+)%(?s:.*)depth 3: the answer follows the renamed labels on (\d+)%(?s:.*)depth 4: the answer follows the "
     r"renamed labels on (\d+)%", lambda one, two, three, four: one <= 2 and 25 <= two <= 45 and min(three, four) >= 90),
    ("part1_depth/04_contextual_generalization", "That is depth 2's partial solution: it answers exactly as the rule does",
     r"depth 2 answers as the rule does on ([\d.]+)% of test prompts", lambda agreement: agreement >= 99),
    ("part2_heads/01_sparse_regression", "with one example it is worse than ridge, from two on it is better, and at "
     "$n = d$ its risk is less than half of ridge's",
     r"(?s)ridge +[\d.]+ ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)\n.*lasso +[\d.]+ ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)\n",
     lambda r1, r2, r3, r4, l1, l2, l3, l4: l1 > r1 and l2 < r2 and l3 < r3 and l4 < r4 / 2),
    ("part2_heads/01_sparse_regression", "with few steps it cannot fit much, so it trails ridge as $n$ grows",
     r"(?m)^ridge +(?:[\d.]+ ){3}([\d.]+) ([\d.]+)\ngd +(?:[\d.]+ ){3}([\d.]+) ([\d.]+)$",
     lambda ridge_3, ridge_4, gd_3, gd_4: gd_3 > ridge_3 and gd_4 > ridge_4),
    ("part2_heads/01_sparse_regression", "trails the library's further from two examples on",
     r"(?m)^gd +[\d.]+ [\d.]+ ([\d.]+) ([\d.]+) ([\d.]+)$(?s:.*)^your gd +[\d.]+ [\d.]+ ([\d.]+) ([\d.]+) ([\d.]+)$",
     lambda gd_2, gd_3, gd_4, yours_2, yours_3, yours_4: yours_2 > gd_2 and yours_3 > gd_3 and yours_4 > gd_4),
    ("part2_heads/01_sparse_regression", "It is still far above the oracle",
     r"(?s)lasso +(?:[\d.]+ ){4}([\d.]+)\noracle +(?:[\d.]+ ){4}([\d.]+)", lambda lasso, oracle: lasso > 3 * oracle),
    ("part2_heads/02_training_and_heads_explorer", "averaged over $n = s \\dots d$, with each difference's 95% "
     "interval below 0", r"(?s)minus ridge, prompt by prompt: [+-][\d.]+ \(95% interval [+-][\d.]+ to ([+-][\d.]+)\)\n"
     r".*minus gd, [^\n]* to ([+-][\d.]+)\)\n.*minus lasso, [^\n]* to ([+-][\d.]+)\)",
     lambda *highs: all(high < 0 for high in highs)),
    ("part2_heads/02_training_and_heads_explorer", "Ridge and gradient descent are additive to rounding error, as "
     "they must be. The Lasso is not, and neither is the transformer, by a wider margin than the Lasso",
     r"additivity gap: ridge ([\d.]+), gd ([\d.]+), lasso ([\d.]+), transformer ([\d.]+), softmax ([\d.]+)\s+"
     r"transformer minus lasso, same prompts: [+-][\d.]+ \(95% interval ([+-][\d.]+) to",
     lambda ridge, gd, lasso, transformer, softmax, low: (max(ridge, gd) < 0.005 and transformer > lasso > 0.02
                                                         and softmax > 0.02 and low > 0)),
    ("part2_heads/02_training_and_heads_explorer", "The Lasso keeps less, and the transformer less still",
     r"shrinkage ratio at c = 0.1: ridge ([\d.]+), gd ([\d.]+), lasso ([\d.]+), transformer ([\d.]+), softmax ([\d.]+)"
     r"(?s:.*)at c = 0.1, transformer minus lasso, same prompts: [+-][\d.]+ "
     r"\(95% interval [+-][\d.]+ to ([+-][\d.]+)\)",
     lambda ridge, gd, lasso, transformer, softmax, high: (ridge == gd == 1 and transformer < lasso < 0.95
                                                          and softmax > 0.95 and high < 0)),
    ("part2_heads/02_training_and_heads_explorer", "It stays above the oracle",
     r"minus oracle, prompt by prompt: [+-][\d.]+ \(95% interval ([+-][\d.]+) to", lambda low: low > 0),
    ("part2_heads/02_training_and_heads_explorer", "With softmax attention the same recipe does worse on this seed",
     r"softmax minus linear, prompt by prompt: [+-][\d.]+ \(95% interval ([+-][\d.]+) to", lambda low: low > 0),
    ("part2_heads/03_which_heads_matter", "the pruned models above reach a risk near 3, worse than always predicting 0",
     r"(?m)^pruned +mean risk ([\d.]+)", lambda risk: 2 < risk < 4),
    ("part2_heads/03_which_heads_matter", "now taking layer 1's heads as well costs clearly more than pruning the "
     "later layers alone (the last two printed lines)",
     r"(?m)^pruned +zero-ablated ([\d.]+) x full, mean-ablated ([\d.]+) x full\n"
     r"first_layer_one_head +zero-ablated ([\d.]+) x full, mean-ablated ([\d.]+) x full",
     lambda pruned_zero, pruned_mean, first_zero, first_mean:
     pruned_mean < pruned_zero / 2 and first_mean < first_zero / 2 and first_mean > 1.2 * pruned_mean),
    ("part2_heads/03_which_heads_matter", "layer 3 still matters most, by either kind of ablation",
     r"zero-ablation, [^\n]*layer 1 \+([\d.]+), layer 2 \+([\d.]+), layer 3 \+([\d.]+)\n"
     r"mean-ablation, [^\n]*layer 1 \+([\d.]+), layer 2 \+([\d.]+), layer 3 \+([\d.]+)",
     lambda z1, z2, z3, m1, m2, m3: z3 > max(z1, z2) and m3 > max(m1, m2)),
    ("part2_heads/05_construction_in_weights", "In double precision it agrees with the plain algorithm to rounding error",
     r"largest distance from correlation_gd, n = 0\.\.\d+, \d+ steps, random lr and beta: ([\d.e+-]+)",
     lambda distance: distance < 1e-10),
    ("part2_heads/05_construction_in_weights", "Dividing pays against gradient descent with the same steps, and by a "
     "wide margin against the construction that cannot divide. Against ridge it is close",
     r"(?s)2 steps.*minus gd +([+-][\d.]+) \(95% interval [+-][\d.]+ to ([+-][\d.]+)\)\n"
     r" +dividing minus ridge +[+-][\d.]+ \(95% interval ([+-][\d.]+) to ([+-][\d.]+)\)\n"
     r" +dividing minus correlation_gd ([+-][\d.]+) \(95% interval [+-][\d.]+ to ([+-][\d.]+)\)",
     lambda gd, gd_high, ridge_low, ridge_high, construction, construction_high:
     gd_high < 0 and construction_high < 0 and construction < 2 * gd and ridge_low < 0 < ridge_high),
    ("part2_heads/05_construction_in_weights", "The trained model is below every one of them, on the same prompts",
     r"(?s)2 steps, mean risk [^:]*: dividing ([\d.]+), gd ([\d.]+), ridge ([\d.]+), correlation_gd ([\d.]+), "
     r"lasso ([\d.]+), trained ([\d.]+)\n.*dividing minus trained +[+-][\d.]+ \(95% interval ([+-][\d.]+) to"
     r".*3 steps, mean risk [^:]*: dividing ([\d.]+), [^\n]*\n.*dividing minus trained +[+-][\d.]+ \(95% interval "
     r"([+-][\d.]+) to",
     lambda dividing, gd, ridge, construction, lasso, trained, low, dividing_3_steps, low_3_steps:
     trained < min(dividing, gd, ridge, construction, lasso, dividing_3_steps) and low > 0 and low_3_steps > 0),
    ("part2_heads/05_construction_in_weights", "The trained model is below it too",
     r"(?s)3 layers: mean risk [\d.]+\n.*layernorm minus trained +[+-][\d.]+ \(95% interval ([+-][\d.]+) to"
     r".*4 layers: mean risk [\d.]+\n.*layernorm minus trained +[+-][\d.]+ \(95% interval ([+-][\d.]+) to",
     lambda low_3_layers, low_4_layers: low_3_layers > 0 and low_4_layers > 0),
    ("part2_heads/05_construction_in_weights", "the model equals it in double precision to about $10^{-8}$",
     r"largest distance from as_computed, relative to 1 \+ \|prediction\|: ([\d.e+-]+)", lambda distance: distance < 1e-6),
    ("part2_heads/05_construction_in_weights", "every head of layer 1 matters",
     r"smallest rise of a layer-1 head: ([\d.]+)", lambda smallest: smallest > 0.05),
    ("part2_heads/05_construction_in_weights", "one head left in layer 1 multiplies the risk, and each later layer's "
     "work is one head's: pruning to it costs nothing",
     r"full model ([\d.]+), each later layer pruned to its top head ([\d.]+), one head left in layer 1 too ([\d.]+)",
     lambda full, pruned, one_head: one_head > 1.3 * full and abs(pruned - full) <= 0.01 * full),
    ("part2_heads/05_construction_in_weights", "The construction's probe (printed above) falls once, at layer 1",
     r"'construction': \[([\d.]+), ([\d.]+), ([\d.]+), ([\d.]+)\]",
     lambda entering, *after: after[0] < 0.8 * entering and all(abs(b - after[0]) < 0.1 * after[0] for b in after[1:])),
]


@pytest.mark.parametrize("notebook, sentence, pattern, holds", CLAIMS, ids=[c[1] for c in CLAIMS])
def test_each_sentence_agrees_with_the_number_printed_beside_it(site, notebook, sentence, pattern, holds):
    cells = nbformat.read(site.parent / "source" / f"{notebook}.ipynb", 4).cells
    text = " ".join(" ".join(cell.source.split()) for cell in cells if cell.cell_type == "markdown")
    assert sentence in text, f"{notebook} no longer says {sentence!r}: update CLAIMS with the notebook"
    output = "\n".join(printed(cell.outputs) for cell in cells if cell.cell_type == "code")
    found = re.search(pattern, output)
    assert found, f"{notebook} no longer prints {pattern!r}"
    numbers = [float(group) for group in found.groups()]
    assert holds(*numbers), f"{notebook} says {sentence!r}, but prints {found[0]!r}"


def test_no_file_shows_solution_code_or_hidden_tests(site):
    folder = site.parent  # the whole build folder: the staged pages, the HTML and Jupyter Book's own files
    assert not leaks(folder), leaks(folder)[:5]
    assert not rendered_leaks(folder), rendered_leaks(folder)[:5]


def secret_like(pattern):
    """A secret line matching `pattern`, for the tests that leak one on purpose."""
    return next(line for line in sorted(secret_lines()) if re.match(pattern, line))


def test_the_scan_finds_a_secret_line_in_highlighted_code(tmp_path):
    line = secret_like(r"assert .*\(")
    (tmp_path / "page.html").write_text(f"<html><body>{highlight(line, PythonLexer(), HtmlFormatter())}</body></html>")
    assert not leaks(tmp_path), "leaks() alone reads HTML as it is: it should miss a highlighted line"
    assert rendered_leaks(tmp_path) == [(tmp_path / "page.html", line)]


@pytest.mark.parametrize("pattern", [r"- \d+ points? for ", r"\d+\. "])  # a rubric's line, a numbered answer
def test_the_scan_finds_a_list_item_rendered_from_markdown(tmp_path, pattern):
    line = secret_like(pattern)
    (tmp_path / "page.html").write_text(MarkdownIt().render(line))
    assert rendered_leaks(tmp_path) == [(tmp_path / "page.html", line)]


def test_the_scan_finds_a_secret_line_in_an_output(tmp_path):
    line = secret_like(r"assert ")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "check()", outputs=[nbformat.v4.new_output("error", ename="AssertionError", evalue="",
                                                   traceback=[f"\x1b[0;31m{line}\x1b[0m"])])])
    nbformat.write(notebook, tmp_path / "page.ipynb")
    assert not leaks(tmp_path), "leaks() reads cell sources only: it should miss an output"
    assert rendered_leaks(tmp_path) == [(tmp_path / "page.ipynb", line)]


@pytest.mark.parametrize("text, builds", [("A plain page.", True), ("A link to {doc}`no_such_page`.", False)])
def test_a_warning_fails_the_build(tmp_path, text, builds):
    """A one-page book with the website's settings: it builds, and a broken link (a warning) fails it."""
    source = tmp_path / "book"
    source.mkdir()
    build.stage_book(source, {nb.relative_to(RELEASE).with_suffix("").as_posix(): 1.0 for nb in notebooks(RELEASE)})
    (source / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (source / "intro.md").write_text(f"# A page\n\n{text}\n")
    if builds:
        build.jupyter_book(source, tmp_path / "out")
        assert (tmp_path / "out" / "html" / "intro.html").is_file()
    else:
        with pytest.raises(SystemExit, match="warnings count as errors"):
            build.jupyter_book(source, tmp_path / "out")


@pytest.mark.parametrize("out, message", [("README.md", "is a file"), ("tests", "holds other files"),
                                          ("course/site", "inside the course's sources")])
def test_a_bad_out_is_refused_at_once(out, message):
    done = subprocess.run([sys.executable, "website/build.py", "--out", out], cwd=ROOT, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_line_printed_in_pieces_is_read_whole_on_the_page_and_by_the_claims(tmp_path):
    """The kernel sends what a cell prints on a timer; a flush between print()'s pieces forces the split that a
    timer makes now and then (it failed a claim once)."""
    cell = 'print("distance:", end="", flush=True)\nprint(" 1.0e-16")\nprint("next")'
    notebook = tmp_path / "pieces.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), notebook)
    ran = nbformat.reads(build.execute(notebook)[0], 4)
    assert len(ran.cells[0].outputs) > 1, "the kernel sent the line whole: this test no longer makes the split"
    assert printed(ran.cells[0].outputs) == "distance: 1.0e-16\nnext\n"
    shown = build.page(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), ran)
    assert [output.text for output in shown.cells[0].outputs] == ["distance: 1.0e-16\nnext\n"]
