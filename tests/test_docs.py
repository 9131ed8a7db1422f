"""The manual stays true to the code (issue 22): its generated pages are what the code says now,
the README is a front page, and every relative link in the README, CONTRIBUTING.md and docs/
leads to a file in the repository. (`mkdocs build --strict`, in scripts/test.sh, checks the
site's own links and anchors.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

# [text](target) and [text](<target>), but not images' remote sources nor code spans' contents.
LINK = re.compile(r"\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smgov_docs_generator", ROOT / "scripts/docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        *sorted((ROOT / "docs").rglob("*.md")),
    ]


def broken_links(page: Path, text: str) -> list[str]:
    """The relative links of `text` (a Markdown page at `page`) that lead to no file of the
    repository; remote links, mail links and anchors within the page are not followed."""
    broken = []
    for target in LINK.findall(CODE.sub("", text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        resolved = (page.parent / path).resolve()
        if path.startswith("/") or not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", ["cli", "settings", "obligations"])
def test_generated_pages_are_current(page: str) -> None:
    """Each page scripts/docs.py generates (the CLI reference from the Typer app, the settings
    reference from `Settings`, the duty kinds from `MET_BY`) is committed exactly as the code
    produces it now (regenerate with `.venv/bin/python scripts/docs.py`)."""
    generator = _generator()
    [(path, make)] = [(p, m) for p, m in generator.PAGES.items() if p.stem == page]
    assert path.read_text(encoding="utf-8") == make(), f"{path} is stale: run scripts/docs.py"


def test_settings_reference_names_every_setting() -> None:
    """The settings reference has a row for every field of `Settings`, with its description,
    and every field has one (a setting without a meaning is not documented)."""
    from models.settings import Settings

    page = (ROOT / "docs/reference/settings.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"| `SMGOV_{name.upper()}` |" in page


def test_cli_reference_names_every_command() -> None:
    """The CLI reference has a section for every command of the Typer app."""
    import typer

    from smgov.cli import app

    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="smgov")
    paths = [sub_ctx.command_path for _, sub_ctx in _generator()._walk(root, ctx)]
    page = (ROOT / "docs/reference/cli.md").read_text(encoding="utf-8")
    assert {"smgov account import", "smgov sweep", "smgov db upgrade"} <= set(paths)
    for path in paths:
        assert f"# `{path}`\n" in page, path


def test_readme_is_a_front_page() -> None:
    """The README is a front page under 150 lines: what smgov is, the two commands, a first
    session and where the manual is."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 150
    for part in ("bash scripts/run.sh", "bash scripts/test.sh", "## A first session", "docs/"):
        assert part in readme


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link of the page leads to a file inside the repository."""
    assert broken_links(page, page.read_text(encoding="utf-8")) == []


def test_a_broken_link_is_found() -> None:
    """The link check is not vacuous: a link to a missing file, one leaving the repository and
    an absolute one are reported; remote links, anchors and links in code are not."""
    page = ROOT / "docs" / "index.md"
    text = (
        "[ok](getting-started.md#a-first-session) [gone](concepts/nowhere.md) "
        "[out](../../etc/passwd) [abs](/etc/passwd) [web](https://example.org/x.md) [here](#top) "
        "`[code](missing.md)`"
    )
    assert broken_links(page, text) == ["concepts/nowhere.md", "../../etc/passwd", "/etc/passwd"]
