"""An MkDocs hook that publishes ``/llms.txt``: the site's map for language models.

The llms.txt convention: an H1 with the project's name, a one-paragraph summary as a block
quote, then H2 sections of links, one line each, ``- [Title](url): what the page holds``.
Everything comes from ``mkdocs.yml`` and the pages, so the file cannot drift from the site:

- the title is ``site_name``; the summary is ``extra.llms_txt.summary``;
- the sections follow the ``nav``: each nav section is an H2 with its pages; the pages at the
  top of the nav, before its first section, go under ``extra.llms_txt.top_section``, and
  those after the sections (migrating, performance) under ``Optional``, the section the
  convention lets a reader with little room skip;
- each line's text is the page's ``description`` front matter (which Material also puts in
  the page's ``<meta name="description">``). A page in the nav without one fails the build:
  the file would otherwise list a page that says nothing about itself.

``extra.llms_txt.files`` names files of the repository to publish beside it (``AGENTS.md``,
the condensed reference shipped in the wheel); each is listed under ``Optional`` too.

Registered under ``hooks:`` in ``mkdocs.yml``; ``render(config)`` is what the tests call.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File
from mkdocs.utils.meta import get_data

NAME = "llms.txt"


def _settings(config: Any) -> dict[str, Any]:
    settings = config["extra"].get("llms_txt")
    if not isinstance(settings, dict) or not settings.get("summary"):
        raise PluginError("mkdocs.yml: extra.llms_txt.summary is required by docs/hooks/llms.py")
    return settings


def _link(config: Any, title: str, path: str) -> str:
    source = Path(config["docs_dir"]) / path
    _, meta = get_data(source.read_text(encoding="utf-8"))
    description = " ".join(str(meta.get("description", "")).split())
    if not description:
        raise PluginError(f"{path}: a page in the nav needs a 'description' in its front matter")
    url = File(path, config["docs_dir"], config["site_dir"], config["use_directory_urls"]).url
    return f"- [{title}]({url or './'}): {description}"


def _entries(item: Any) -> tuple[str | None, Any]:
    """A nav entry as (title, value): ``{"Title": value}`` or a bare path."""
    if isinstance(item, dict):
        ((title, value),) = item.items()
        return title, value
    return None, item


def _pages(config: Any, items: list[Any]) -> list[str]:
    lines = []
    for item in items:
        title, value = _entries(item)
        if isinstance(value, list):
            lines.extend(_pages(config, value))
        elif not str(value).startswith(("http://", "https://")):
            lines.append(_link(config, title or Path(value).stem, value))
    return lines


def render(config: Any) -> str:
    """The text of llms.txt for this site's configuration."""
    settings = _settings(config)
    summary = " ".join(str(settings["summary"]).split())
    out = [f"# {config['site_name']}", "", f"> {summary}", ""]
    top: list[str] = []
    optional: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for item in config["nav"]:
        title, value = _entries(item)
        if isinstance(value, list):
            sections.append((title or "", _pages(config, value)))
        else:  # loose pages: the first ones start the site, those after the sections are extra
            (optional if sections else top).extend(_pages(config, [item]))
    if top:
        sections.insert(0, (settings.get("top_section", "Docs"), top))
    optional += [
        f"- [{Path(path).name}]({Path(path).name}): {text}"
        for path, text in settings.get("files", {}).items()
    ]
    if optional:
        sections.append(("Optional", optional))
    for title, lines in sections:
        out += [f"## {title}", "", *lines, ""]
    return "\n".join(out)


def on_post_build(config: Any) -> None:
    site = Path(config["site_dir"])
    (site / NAME).write_text(render(config), encoding="utf-8")
    root = Path(config["config_file_path"]).parent
    for path in _settings(config).get("files", {}):
        shutil.copyfile(root / path, site / Path(path).name)
