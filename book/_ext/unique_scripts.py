"""Sphinx extension: drop repeated <script> entries from every HTML page.

sphinx-thebe (loaded by Jupyter Book) registers its configuration script twice
under this Sphinx version, and the second copy's `const THEBE_JS_URL` is a
redeclaration that browsers report as a console error on every page. Emitting
each script once fixes that without touching the extensions themselves.
"""

from __future__ import annotations


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # inline scripts: None or "", alike
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    seen: set[tuple] = set()
    unique = []
    for script in context.get("script_files", []):
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
