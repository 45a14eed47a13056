"""Copy ``repository.url`` from _config.yml into every notebook's set-up cell.

    python book/scripts/sync_repository_url.py          # rewrite notebooks that differ
    python book/scripts/sync_repository_url.py --check  # exit 1 if any differs

_config.yml is the one place that names the repository (launch buttons,
repository button); notebooks opened in Colab cannot read it, so their first
code cell carries a copy, which this script keeps equal. Only the source line
changes: stored outputs stay as they are.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

from se_tutorial.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r'^REPOSITORY = "[^"]*"', re.MULTILINE)


def main(arguments: list[str]) -> int:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
        source = "".join(first["source"])
        updated = LINE.sub(f'REPOSITORY = "{url}"', source, count=1)
        if updated != source:
            stale.append(path.name)
            if "--check" not in arguments:
                first["source"] = updated.splitlines(keepends=True)
                atomic_write_text(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    verb = "differ from" if "--check" in arguments else "updated to"
    for name in stale:
        print(f"{name}: {verb} {url}")
    return 1 if stale and "--check" in arguments else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
