"""The site's llms.txt (docs/hooks/llms.py): made from mkdocs.yml's nav, every page once.

The strict docs build (``.ci/run``) runs the hook itself; these tests check what it writes
against the nav and the pages, and that a page without a description fails the build.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("mkdocs", reason="the docs group is not installed")

from mkdocs.config import load_config
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"^- \[(?P<title>[^\]]+)\]\((?P<url>[^)]+)\): (?P<text>\S.*)$")


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llms_hook", ROOT / "docs" / "hooks" / "llms.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def config() -> Any:
    return load_config(str(ROOT / "mkdocs.yml"))


@pytest.fixture(scope="module")
def text(config: Any) -> str:
    rendered: str = _hook().render(config)
    return rendered


def _nav_pages(items: list[Any]) -> list[tuple[str, str]]:
    pages = []
    for item in items:
        ((title, value),) = item.items()
        pages += _nav_pages(value) if isinstance(value, list) else [(title, value)]
    return pages


def test_the_file_has_a_title_then_a_one_paragraph_summary(text: str, config: Any) -> None:
    lines = text.splitlines()
    assert lines[0] == f"# {config['site_name']}"
    assert lines[1] == ""
    assert lines[2].startswith("> quiv (the distribution quiv-scheduler")
    assert lines[3] == ""
    assert lines[4].startswith("## ")


def test_the_sections_follow_the_nav(text: str, config: Any) -> None:
    nav_sections = [next(iter(item)) for item in config["nav"] if isinstance(*item.values(), list)]
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings == ["Start here", *nav_sections, "Optional"]


def test_every_page_of_the_nav_is_listed_once_with_its_description(text: str, config: Any) -> None:
    links = [LINK.match(line) for line in text.splitlines() if line.startswith("- ")]
    assert all(links), [line for line in text.splitlines() if line.startswith("- ")]
    listed = {m["title"]: m for m in links if m is not None}
    pages = _nav_pages(config["nav"])
    assert len(listed) == len([m for m in links if m is not None])  # no title twice
    for title, path in pages:
        match = listed.pop(title)
        url = match["url"]
        expected = "./" if path == "index.md" else path.removesuffix(".md") + "/"
        assert url == expected, (title, url)
        source = (ROOT / "docs" / path).read_text(encoding="utf-8")
        assert f'description: "{match["text"]}' in " ".join(source.split()), title
    # What is left is the repository files published beside llms.txt.
    for name, match in listed.items():
        assert match["url"] == name
        assert any(Path(path).name == name for path in config["extra"]["llms_txt"]["files"])


def test_a_page_without_a_description_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "index.md").write_text("# Home\n")
    config = {
        "site_name": "x",
        "extra": {"llms_txt": {"summary": "A site."}},
        "nav": [{"Home": "index.md"}],
        "docs_dir": str(tmp_path),
        "site_dir": str(tmp_path / "site"),
        "use_directory_urls": True,
    }
    with pytest.raises(PluginError, match=r"index\.md: a page in the nav needs a 'description'"):
        _hook().render(config)
    (tmp_path / "index.md").write_text('---\ndescription: "The home page."\n---\n\n# Home\n')
    text = _hook().render(config)
    assert text.endswith("## Docs\n\n- [Home](./): The home page.\n")
