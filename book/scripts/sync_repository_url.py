"""Copy ``repository.url`` from _config.yml into every notebook's set-up cell and Colab badge,
and into the install commands of the introduction and the README.

    python book/scripts/sync_repository_url.py          # rewrite notebooks that differ
    python book/scripts/sync_repository_url.py --check  # exit 1 if any differs

_config.yml is the one place that names the repository (launch buttons,
repository button); notebooks opened in Colab cannot read it, so their first
code cell carries a copy, and the Colab badge under each chapter's title links
to the notebook in that repository; this script keeps both equal. Only sources
change: stored outputs stay as they are.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

from se_tutorial.utils.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r'^REPOSITORY = "[^"]*"', re.MULTILINE)
BADGE = re.compile(r"\(https://colab\.research\.google\.com/github/[^)]*\)")
INSTALL = re.compile(r"git\+https://github\.com/[^\s\"'`]*")
#: Pages whose `pip install "git+..."` line names the repository.
INSTALL_PAGES = ("book/intro.md", "README.md")


def colab_url(repository: str, branch: str, notebook: Path) -> str:
    """Colab's address for ``notebook`` in a GitHub ``repository`` on ``branch``."""
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)/?", repository)
    if not match:
        raise ValueError(
            f"repository.url in _config.yml must be a GitHub address such as "
            f"https://github.com/OWNER/REPO for Colab to open the notebooks, got {repository!r}."
        )
    return f"https://colab.research.google.com/github/{match[1]}/blob/{branch}/notebooks/{notebook.name}"


def main(arguments: list[str]) -> int:
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url = repository["url"]
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        title = next(c for c in notebook["cells"] if c["cell_type"] == "markdown")
        first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
        badge = f"({colab_url(url, repository.get('branch', 'main'), path)})"
        changed = False
        for cell, pattern, replacement in ((first, LINE, f'REPOSITORY = "{url}"'), (title, BADGE, badge)):
            source = "".join(cell["source"])
            updated = pattern.sub(lambda _, r=replacement: r, source, count=1)
            if updated != source:
                cell["source"] = updated.splitlines(keepends=True)
                changed = True
        if changed:
            stale.append(path.name)
            if "--check" not in arguments:
                atomic_write_text(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    for name in INSTALL_PAGES:
        text = (ROOT / name).read_text()
        updated = INSTALL.sub(f"git+{url}", text)
        if updated != text:
            stale.append(name)
            if "--check" not in arguments:
                atomic_write_text(ROOT / name, updated)
    verb = "differ from" if "--check" in arguments else "updated to"
    for name in stale:
        print(f"{name}: {verb} {url}")
    return 1 if stale and "--check" in arguments else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
