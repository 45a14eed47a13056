"""Every chapter notebook is stored executed, clean, listed in the book, and ready for Colab."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def code_cells(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_the_chapters_in_order():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_equations",
        "02_se_block",
        "03_se_resnet_block",
        "04_training",
        "05_evidence",
        "06_ablations",
        "07_after_se",
    ]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_listed_in_the_table_of_contents(path):
    assert path.relative_to(ROOT).with_suffix("").as_posix() in toc_files()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executed_top_to_bottom_in_one_kernel_without_errors(path):
    cells = code_cells(load(path))
    assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1))
    for cell in cells:
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert not errors, f"cell {cell['execution_count']} stored an error: {errors[0]['ename']}"
        streams = "".join("".join(o.get("text", "")) for o in cell["outputs"] if o.get("name") == "stderr")
        assert "Traceback" not in streams


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_python3_kernel_and_no_widget_state(path):
    notebook = load(path)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in notebook["metadata"], (
        "widget state would make the book load JavaScript from a CDN"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_local_paths_and_a_reasonable_size(path):
    text = path.read_text()
    assert not re.search(r"/(root|home|Users|work|tmp)/[\w.-]+/", text), (
        "an absolute path of this machine leaked"
    )
    assert path.stat().st_size < 2_000_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_installs_from_the_configured_repository_and_picks_the_device(path):
    first = "".join(code_cells(load(path))[0]["source"])
    assert f'REPOSITORY = "{CONFIG["repository"]["url"]}"' in first, "run `make sync-url`"
    assert 'find_spec("se_tutorial")' in first and '%pip install --quiet "git+{REPOSITORY}"' in first
    assert first.rstrip().endswith("device, budget = start(REPOSITORY)")
    assert len(first.strip().splitlines()) <= 6, "the set-up cell is an install guard and one call"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_ends_with_exercises_and_hidden_solutions(path):
    markdown = ["".join(c["source"]) for c in load(path)["cells"] if c["cell_type"] == "markdown"]
    assert any("## Exercises" in text for text in markdown)
    assert ":class: dropdown" in markdown[-1] and "Solution" in markdown[-1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_come_from_a_real_budget(path):
    first_output = "".join(code_cells(load(path))[0]["outputs"][0]["text"])
    assert re.search(r"budget: (brief|full)", first_output), "re-execute with the brief or full budget"


def test_every_notebook_has_checked_outputs():
    for path in NOTEBOOKS:
        cells = code_cells(load(path))
        checked = [c for c in cells if "nbval-check-output" in c["metadata"].get("tags", [])]
        # Training results depend on the budget.
        if path.stem not in ("04_training", "05_evidence", "06_ablations"):
            assert len(checked) >= 3, path.stem


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_test_scaffolding_on_the_page(path):
    """nbval markers live in cell tags, and code comments name equations by number, not label."""
    for cell in code_cells(load(path)):
        source = "".join(cell["source"])
        assert "NBVAL" not in source, "use the cell tag nbval-check-output, not a comment"
        assert not re.search(r"\beq-[a-z]", source), "a code comment shows an equation's label name"


#: Characters of monospace text that fit a code or output box at a 1280 px viewport.
BOX_WIDTH = 76


def output_lines(cell: dict) -> list[str]:
    if "remove-output" in cell["metadata"].get("tags", []):
        return []  # not on the page
    lines = []
    for output in cell["outputs"]:
        data = output.get("data", {})
        if output["output_type"] == "stream":
            text = "".join(output["text"])
        elif "image/png" in data or "text/html" in data:
            continue  # shown as an image or a table, not as text
        else:
            text = "".join(data.get("text/plain", ""))
        lines += [line.split("\r")[-1] for line in text.splitlines()]
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_and_printed_output_fit_the_page_without_scrolling(path):
    for cell in code_cells(load(path)):
        for line in "".join(cell["source"]).splitlines() + output_lines(cell):
            assert len(line) <= BOX_WIDTH, f"cell {cell['execution_count']}: {len(line)} chars: {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_use_no_font_below_the_book_minimum(path):
    from se_tutorial.book.chapter import COLUMN_WIDTH_IN, MIN_FONT_PT

    for cell in code_cells(load(path)):
        source = "".join(cell["source"])
        sizes = [float(size) for size in re.findall(r"fontsize=(\d+(?:\.\d+)?)", source)]
        assert all(size >= MIN_FONT_PT for size in sizes), f"cell {cell['execution_count']}: {sizes}"
        assert not re.search(r"fontsize=[\"'](x+-)?small", source), "relative sizes fall below the minimum"
        if "plt." in source:
            assert "figsize=" not in source or all(
                float(width) <= COLUMN_WIDTH_IN for width in re.findall(r"figsize=\((\d+(?:\.\d+)?)", source)
            ), f"cell {cell['execution_count']}: a figure wider than a phone's column is scaled down"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_badge_opens_this_notebook_from_the_configured_repository(path):
    title = "".join(load(path)["cells"][0]["source"])
    owner_repo = CONFIG["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
    branch = CONFIG["repository"].get("branch", "main")
    expected = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/notebooks/{path.name}"
    assert f"]({expected})" in title, "run `make sync-url`"
    assert "open-in-colab.svg" in title


PROMISES = re.compile(r"later chapter|ablation chapter|will (reproduce|repeat|measure)|next chapter", re.I)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_promise_of_a_chapter_that_does_not_exist(path):
    for cell in load(path)["cells"]:
        text = "".join(cell["source"])
        assert not PROMISES.search(text), PROMISES.search(text)[0]
        for target in re.findall(r"\{doc\}`([^`<]+)`", text):
            assert (path.parent / target).with_suffix(".ipynb").exists() or (
                path.parent / target
            ).with_suffix(".md").exists(), target


FOLDED = {"hide-input", "remove-input", "remove-cell"}  # tags that keep a cell's code off the page


def visible_code_lines(notebook: dict) -> int:
    return sum(
        len("".join(cell["source"]).strip().splitlines())
        for cell in code_cells(notebook)
        if not FOLDED & set(cell["metadata"].get("tags", []))
    )


#: Chapters whose results code lives in the package: the page shows at most this many code lines.
CODE_BUDGET = {"04_training": 120, "05_evidence": 120, "06_ablations": 120, "07_after_se": 120}


@pytest.mark.parametrize("stem", CODE_BUDGET)
def test_results_code_lives_in_the_package(stem):
    shown = visible_code_lines(load(ROOT / "notebooks" / f"{stem}.ipynb"))
    assert shown <= CODE_BUDGET[stem], f"{shown} visible code lines; move formatting into se_tutorial.book"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_budget_branches_on_the_page(path):
    """What differs between CI and a reader's run is decided in the package, not in a visible cell."""
    for cell in code_cells(load(path)):
        if not FOLDED & set(cell["metadata"].get("tags", [])):
            assert not re.search(r"budget\.name\s*==|shown\s*==\s*\"smoke\"", "".join(cell["source"]))


#: A printed line with this many words or more is a sentence, and belongs in the prose.
SENTENCE_WORDS = 12


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_findings_are_prose_not_printed_sentences(path):
    for cell in code_cells(load(path)):
        for line in output_lines(cell):
            if line.strip().startswith("#"):
                continue  # a comment in printed source code
            words = re.findall(r"[A-Za-z]{2,}", line)
            assert len(words) < SENTENCE_WORDS, (
                f"cell {cell['execution_count']} prints a sentence; state it in markdown under the output: {line!r}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_and_alt_text(path):
    for cell in code_cells(load(path)):
        if any("image/png" in output.get("data", {}) for output in cell["outputs"]):
            options = cell["metadata"].get("mystnb", {})
            caption = options.get("figure", {}).get("caption", "")
            alt = options.get("image", {}).get("alt", "")
            assert len(caption.split()) >= 8, (
                f"cell {cell['execution_count']}: a caption says what to look at"
            )
            assert len(alt.split()) >= 8 and not re.search(r"\.png\b|^\S+$", alt), (
                f"cell {cell['execution_count']}: alt text"
            )


RUNNING_TIME = re.compile(r"Runs in (under a minute|about (\d+) minutes) on a 2-core CPU")


def stored_seconds(notebook: dict) -> float:
    """Wall time of the stored execution: first cell started to last cell finished (nbclient's timing)."""
    from datetime import datetime

    times = [cell["metadata"]["execution"] for cell in code_cells(notebook)]
    start = datetime.fromisoformat(times[0]["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(times[-1]["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_stated_running_time_is_the_stored_runs(path):
    """Each chapter says how long it runs on a 2-core CPU; its stored execution took no longer."""
    notebook = load(path)
    stated = RUNNING_TIME.search("".join(notebook["cells"][0]["source"]))
    assert stated, "the chapter's first cell states its running time: 'Runs in ... on a 2-core CPU'"
    limit = 60 if stated[1] == "under a minute" else (int(stated[2]) + 0.5) * 60
    took = stored_seconds(notebook)
    assert took <= limit, f"stated {stated[0]!r}, but the stored run took {took:.0f} s"
    assert took >= limit - 90 or stated[1] == "under a minute", f"the run took only {took:.0f} s: say less"
