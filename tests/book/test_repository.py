"""Results files of the repository: read from a clone, fetched outside one, clear errors otherwise."""

import pytest

from se_tutorial.book import repository as repository_files
from se_tutorial.book.repository import RepositoryFileError, raw_url, repository_file
from se_tutorial.utils.fetch import FetchError

REPOSITORY = "https://github.com/someone/se-tutorial"


def no_network(url, timeout):
    raise AssertionError(f"fetched {url} although the file should be local")


def test_inside_a_clone_the_clones_file_is_used_from_any_subfolder(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    stored = tmp_path / "book" / "results" / "a.jsonl"
    stored.parent.mkdir(parents=True)
    stored.write_text("{}\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setattr(repository_files, "fetch", no_network)
    assert repository_file("book/results/a.jsonl", REPOSITORY) == stored
    with pytest.raises(RepositoryFileError, match=r"book/results/b.jsonl is not in this clone"):
        repository_file("book/results/b.jsonl", REPOSITORY)


def test_outside_a_clone_the_file_is_fetched_from_the_repository_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SE_TUTORIAL_CACHE", str(tmp_path / "cache"))
    asked = []

    def fake_fetch(url, timeout):
        asked.append(url)
        return b'{"seed": 0}\n'

    monkeypatch.setattr(repository_files, "fetch", fake_fetch)
    path = repository_file("book/results/a.jsonl", REPOSITORY, ref="v1")
    assert asked == ["https://raw.githubusercontent.com/someone/se-tutorial/v1/book/results/a.jsonl"]
    assert path.read_bytes() == b'{"seed": 0}\n' and path.is_relative_to(tmp_path / "cache")


def test_a_failed_fetch_names_the_file_the_reason_and_the_way_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SE_TUTORIAL_CACHE", str(tmp_path / "cache"))

    def failing(url, timeout):
        raise FetchError(f"{url}: HTTP Error 404: Not Found")

    monkeypatch.setattr(repository_files, "fetch", failing)
    with pytest.raises(RepositoryFileError) as caught:
        repository_file("book/results/a.jsonl", REPOSITORY)
    message = str(caught.value)
    assert "book/results/a.jsonl" in message and "404" in message and f"Clone {REPOSITORY}" in message
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("a.jsonl"))


@pytest.mark.parametrize(
    "repository", ["https://github.com/a/b", "https://github.com/a/b.git", "https://github.com/a/b/"]
)
def test_raw_url_accepts_the_usual_spellings_of_a_github_address(repository):
    assert raw_url(repository, "x/y.json") == "https://raw.githubusercontent.com/a/b/main/x/y.json"


def test_raw_url_refuses_an_address_that_is_not_github():
    with pytest.raises(ValueError, match=r"not a GitHub address .* clone the repository"):
        raw_url("https://gitlab.com/a/b", "x.json")


def run_row(variant, seed, budget, sweep="se-and-init"):
    return (
        f'{{"sweep": "{sweep}", "variant": "{variant}", "seed": {seed}, "budget": "{budget}", '
        f'"dataset": "fashion-mnist", "test_accuracy": 0.9}}\n'
    )


def test_a_chapters_runs_are_the_budgets_and_the_sweeps_fetched_outside_a_clone(
    tmp_path, monkeypatch, capsys
):
    from se_tutorial.book.repository import stored_runs

    monkeypatch.chdir(tmp_path)
    files = {
        "se_and_init_brief.jsonl": run_row("resnet", 0, "brief") + run_row("se-resnet", 0, "brief")
        + run_row("resnet", 1, "full") + run_row("resnet", 2, "brief", sweep="other"),
    }  # fmt: skip

    def fake_fetch(url, timeout):
        name = url.rsplit("/", 1)[1]
        if name not in files:
            raise FetchError(f"{url}: HTTP Error 404: Not Found")
        return files[name].encode()

    monkeypatch.setattr(repository_files, "fetch", fake_fetch)
    rows, shown = stored_runs("se-and-init", "brief", REPOSITORY)
    assert shown == "brief" and [(r["variant"], r["seed"]) for r in rows] == [("resnet", 0), ("se-resnet", 0)]
    assert capsys.readouterr().out == ""
    rows, shown = stored_runs("se-and-init", "full", REPOSITORY)  # no file for full: brief's, said
    assert shown == "brief" and len(rows) == 2
    assert (
        "no stored runs of se-and-init for the full budget; showing the brief budget's"
        in capsys.readouterr().out
    )
    with pytest.raises(RepositoryFileError, match="holds no brief runs of gate"):
        stored_runs("gate", "brief", REPOSITORY, name="se_and_init")
