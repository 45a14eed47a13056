"""Files that the book's repository stores (results of long runs), found locally or fetched.

A chapter opened from a clone of the repository finds ``book/results/...`` in
the clone. In Colab only the package is installed, so :func:`repository_file`
fetches the file from the repository that the chapter's set-up cell names
(``REPOSITORY``) into the cache folder; ``$SE_TUTORIAL_REPOSITORY_FILES``, when
set, names a server that holds the same files as ``<ref>/<path>`` instead (a
mirror, or the test that runs a chapter as Colab does).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..studies.ablations import own_variants
from ..studies.results import read_rows
from ..studies.sweeps import buildable_variants, run_sweep
from ..training import BUDGETS
from ..utils.errors import SETutorialError
from ..utils.fetch import DOWNLOAD_TIMEOUT, FetchError, fetch
from ..utils.files import atomic_write, cache_dir


class RepositoryFileError(SETutorialError, FileNotFoundError):
    """A file of the book's repository is neither here nor fetchable."""


def raw_url(repository: str, path: str, ref: str = "main") -> str:
    """Where GitHub serves ``path`` of ``repository`` at ``ref`` as a plain file.

    With ``$SE_TUTORIAL_REPOSITORY_FILES`` set, ``<that address>/<ref>/<path>`` instead.

    >>> raw_url("https://github.com/se-tutorial/se-tutorial", "book/results/a.jsonl")
    'https://raw.githubusercontent.com/se-tutorial/se-tutorial/main/book/results/a.jsonl'
    """
    mirror = os.environ.get("SE_TUTORIAL_REPOSITORY_FILES")
    if mirror:
        return f"{mirror.rstrip('/')}/{ref}/{path}"
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", repository)
    if not match:
        raise ValueError(
            f"{repository!r} is not a GitHub address (https://github.com/OWNER/NAME), so its files "
            "cannot be fetched; clone the repository and open the notebook from its notebooks/ folder."
        )
    return f"https://raw.githubusercontent.com/{match[1]}/{match[2]}/{ref}/{path}"


def clone_root(start: Path | None = None) -> Path | None:
    """The clone of the book's repository that ``start`` (default: here) is in, if any."""
    start = (start or Path.cwd()).resolve()
    return next((folder for folder in (start, *start.parents) if (folder / "_toc.yml").is_file()), None)


def repository_file(path: str, repository: str, *, ref: str = "main") -> Path:
    """The local copy of the repository's ``path`` (e.g. ``"book/results/x.jsonl"``).

    Inside a clone, the clone's file (an error if the clone lacks it). Outside
    one, the file is fetched from ``repository`` at ``ref`` into the cache.
    """
    root = clone_root()
    if root is not None:
        if not (root / path).is_file():
            raise RepositoryFileError(f"{path} is not in this clone ({root}).")
        return root / path
    url = raw_url(repository, path, ref)
    try:
        payload = fetch(url, DOWNLOAD_TIMEOUT)
    except FetchError as error:
        raise RepositoryFileError(
            f"{path} is needed from the book's repository, but fetching it failed ({error}). "
            f"Clone {repository} and open the notebook from its notebooks/ folder."
        ) from None
    target = cache_dir() / "repository" / ref / path
    return atomic_write(target, lambda file: file.write(payload))


def stored_runs(
    sweeps: str | Sequence[str], budget: str, repository: str, *, name: str | None = None
) -> tuple[list[dict], str]:
    """The runs of ``sweeps`` (one name or several) a chapter shows, and their budget: ``(rows, budget)``.

    Under the ``smoke`` budget (the book's tests) two seeds of each sweep run
    live, so every code path runs: the variants that train a model of their
    own and that the smoke network can build. Otherwise the rows come from the
    repository's ``book/results/<name>_<budget>.jsonl`` (``name`` defaults to
    the sweep's, with ``_`` for ``-``), fetched when the chapter is not in a
    clone; where the repository has no runs for ``budget``, the ``brief``
    budget's are shown instead, and a printed line says so.
    """
    sweeps = [sweeps] if isinstance(sweeps, str) else list(sweeps)
    name = name or sweeps[0].replace("-", "_")
    if budget == "smoke":
        path = Path(tempfile.mkdtemp()) / f"{name}_smoke.jsonl"
        for sweep in sweeps:
            buildable = buildable_variants(sweep, own_variants(sweep), BUDGETS["smoke"], "fashion-mnist")
            run_sweep(sweep, [0, 1], path, budget="smoke", progress=False, variants=buildable)
    else:
        try:
            path = repository_file(f"book/results/{name}_{budget}.jsonl", repository)
        except RepositoryFileError:
            print(
                f"no stored runs of {', '.join(sweeps)} for the {budget} budget; showing the brief budget's"
            )
            budget = "brief"
            path = repository_file(f"book/results/{name}_{budget}.jsonl", repository)
    rows = [row for row in read_rows(path) if row.get("sweep") in sweeps and row["budget"] == budget]
    if not rows:
        raise RepositoryFileError(f"{path} holds no {budget} runs of {', '.join(sweeps)}.")
    return rows, budget
