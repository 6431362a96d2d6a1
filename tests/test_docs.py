"""The README and docs/ hold: every relative link resolves, every `python -m fststyle.<verb>`
command in them names a real verb and only options that verb knows (from its --help), and every
timing in them, in the configs and in the model card names the machine it was measured on or
says it is an estimate."""

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
# A duration or a rate: "7 min", "0.47 s", "13.5 fps", "9.4 images/s" (not "1/100 s", "256²").
TIMING = re.compile(r"(?<![\w./-])\d+(?:\.\d+)?\s?(?:ms|s|min|minutes?|h|hours?|seconds?|"
                    r"images/s|img/s|fps|steps/s|frames/s)(?![\w/²-])")
# What makes a timing readable: the machine (CPU class or GPU), or the word estimate.
MACHINE = re.compile(r"EPYC|Xeon|H100|H200|GPU|AVX|estimate", re.I)
# A line that sets a time (a budget, a timeout, a target) rather than reporting one.
SETTING = re.compile(r"budget|timeout|time limit|max_time|every|within|at most|≤|<=|>=|target",
                     re.I)
TIMED = [*PAGES, *sorted((ROOT / "configs").glob("*.yaml")),
         ROOT / "fststyle" / "models" / "MODEL_CARD.md"]


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


def sections(text: str, markdown: bool) -> list[str]:
    """A Markdown page's sections (each from its heading to the next); a config is one."""
    if not markdown:
        return [text]
    return [part for part in re.split(r"\n(?=#)", text) if part.strip()]


def unattributed_timings(text: str, markdown: bool = True) -> list[str]:
    """The lines with a timing whose section names no machine and says no estimate."""
    found = []
    for section in sections(text, markdown):
        if MACHINE.search(section):
            continue
        found += [line.strip() for line in section.splitlines()
                  if TIMING.search(line) and not SETTING.search(line)]
    return found


@pytest.mark.parametrize("page", TIMED, ids=lambda p: p.name)
def test_every_timing_names_its_machine_or_says_estimate(page):
    assert not unattributed_timings(page.read_text(), page.suffix == ".md"), page.name


def test_a_timing_without_its_machine_is_found():
    page = ("# Speed\n\nThe demo trains in 7 min 30 s.\n\n"
            "# Measured\n\n13.5 fps at 256² (AMD EPYC, AVX2 only, 2026-12-02).\n\n"
            "# Settings\n\nA 150 s time budget; 1/100 s GIF delays; 256² crops.\n")
    assert unattributed_timings(page) == ["The demo trains in 7 min 30 s."]
    assert unattributed_timings("# ~4.5 min on 2 cores\nx: 1", markdown=False)
    assert not unattributed_timings("# ~4.5 min (estimate)\nx: 1", markdown=False)
