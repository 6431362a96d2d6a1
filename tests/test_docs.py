"""The README and docs/ hold: every relative link resolves, and every `python -m fststyle.<verb>`
command in them names a real verb and only options that verb knows (from its --help)."""

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target)
COMMAND = re.compile(r"python -m fststyle\.(\w+)((?:[^\n`|]|\\\n)*)")  # to the line's end
OPTION = re.compile(r"(?<![\w.-])(--[a-z][\w.-]*)")


def broken_links(page: Path) -> list[str]:
    targets = [t for t in LINK.findall(page.read_text()) if "://" not in t
               and not t.startswith(("#", "mailto:"))]
    return [t for t in targets if not (page.parent / t.split("#")[0]).exists()]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    assert not broken_links(page), f"{page.name}: broken links"


def test_a_broken_link_is_found(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "here.md").write_text("")
    page.write_text("[ok](here.md#part) [gone](missing.md) [web](https://example.org)")
    assert broken_links(page) == ["missing.md"]


@cache
def known_options(verb: str) -> frozenset[str]:
    """The options `python -m fststyle.<verb> --help` lists."""
    done = subprocess.run([sys.executable, "-m", f"fststyle.{verb}", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"fststyle.{verb} --help: {done.stderr[-300:]}"
    return frozenset(OPTION.findall(done.stdout))


def commands() -> list[tuple[str, str, str]]:
    """(page name, verb, options text) of every documented fststyle command."""
    found = []
    for page in PAGES:
        for verb, rest in COMMAND.findall(page.read_text()):
            found.append((page.name, verb, rest.replace("\\\n", " ")))
    return found


def unknown_options(verb: str, text: str) -> list[str]:
    options = {o.split("+=")[0].rstrip("=") for o in OPTION.findall(text)}
    known = known_options(verb)
    # LightningCLI's nested keys: --trainer.callbacks.step configures a listed callback.
    return sorted(o for o in options if o not in known
                  and not any(o.startswith(k + ".") for k in known))


def test_documented_commands_use_real_verbs_and_options():
    verbs = {p.stem for p in (ROOT / "fststyle").glob("*.py") if not p.stem.startswith("_")}
    problems = []
    for page, verb, text in commands():
        if verb not in verbs:
            problems.append(f"{page}: fststyle.{verb} does not exist")
        elif unknown_options(verb, text):
            problems.append(f"{page}: fststyle.{verb} {unknown_options(verb, text)}")
    assert not problems, "\n".join(problems)


def test_an_unknown_option_is_found():
    assert unknown_options("stylize", " photo.jpg --style udnie --no-such-option 3") == [
        "--no-such-option"]
