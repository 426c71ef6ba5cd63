"""The README and the docs show commands that exist, with flags that exist."""

import pathlib
import re
import shlex

import pytest

from kavan_tf.cli import build_parser

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _code_lines(page):
    """Command lines of the page's code blocks, continuations joined, comments cut."""
    text = page.read_text(encoding="utf-8")
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            yield line


def _kavan_commands():
    for page in PAGES:
        for line in _code_lines(page):
            if line.startswith("kavan "):
                yield pytest.param(line, id=f"{page.name}: {line[:60]}")


def _make_targets():
    for page in PAGES:
        for line in _code_lines(page):
            if line.startswith("make "):
                yield pytest.param(line, id=f"{page.name}: {line[:40]}")


def _forms(line):
    """The line as written, without its synopsis options (``[--flag VALUE]``), and
    with them (the first of ``a|b`` choices, without ``...``)."""
    bare = re.sub(r"\s*\[[^\]]*\]", "", line)
    full = re.sub(r"\[([^\]]*)\]", r"\1", line).replace("...", "")
    full = re.sub(r"(\S+?)\|\S+", r"\1", full)
    return [bare] if bare == line else [bare, full]


@pytest.mark.parametrize("line", list(_kavan_commands()))
def test_documented_kavan_commands_parse(line):
    for form in _forms(line):
        words = shlex.split(form, comments=True)
        # Shell substitutions stand for a value; the parser needs only a word.
        words = [re.sub(r"\$\(.*?\)|\$\{?\w+\}?", "X", w) for w in words]
        try:
            args = build_parser().parse_args(words[1:])
        except SystemExit as e:
            pytest.fail(f"`{form}` does not parse (exit {e.code})")
        assert callable(args.func)


@pytest.mark.parametrize("line", list(_make_targets()))
def test_documented_make_targets_exist(line):
    targets = re.findall(r"^([A-Za-z][\w.-]*):", (ROOT / "Makefile").read_text(), flags=re.M)
    target = shlex.split(line, comments=True)[1]
    assert target in targets, f"`{line}`: no such target in the Makefile"


def test_the_readme_shows_commands():
    lines = [p.values[0] for p in _kavan_commands()]
    assert any("--report" in line for line in lines) and any("--overlay" in line
                                                            for line in lines)


def _equation_rows():
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    section = text.split("## Equation index", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| ") and "`kavan_tf/" in r]
    assert len(rows) >= 12, "the equation index lost its rows"
    return rows


def test_equation_index_names_functions_that_exist():
    """Every function docs/model.md's equation index names is defined in a
    file that its row names."""
    for row in _equation_rows():
        cells = [c.strip() for c in row.strip("|").split("|")]
        folder = re.search(r"`(kavan_tf/[\w/]+)/\w+\.py`", cells[2]).group(1)
        files = [ROOT / (p if p.startswith("kavan_tf/")
                         else f"kavan_tf/{p}" if "/" in p else f"{folder}/{p}")
                 for p in re.findall(r"`([\w/]+\.py)`", cells[2])]
        source = "".join(f.read_text(encoding="utf-8") for f in files)
        for name in re.findall(r"`([A-Za-z_][\w.]*)`", re.sub(r"\([^)]*\)", "", cells[3])):
            *owner, last = name.split(".")
            assert re.search(rf"^\s*(def|class) {last}\b", source, flags=re.M), (row, name)
            if owner:  # Class.method: the method is defined in that class's body
                body = re.search(rf"^class {owner[-1]}\b.*?(?=^\S)", source + "\nend",
                                 flags=re.M | re.S)
                assert body and re.search(rf"^\s+def {last}\b", body.group(0), flags=re.M), (
                    row, name)


def _anchors(page):
    """GitHub's anchors of a Markdown page's headings."""
    headings = re.findall(r"^#+ (.*)$", page.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_decision_citations_name_sections():
    """Every ``decisions.md#<section>`` that the code, tests, benchmarks, docs and
    notebooks cite is a section of docs/decisions.md, and every section link
    of docs/decisions.md names a section of its page."""
    decisions = ROOT / "docs" / "decisions.md"
    sections = _anchors(decisions)
    files = [*PAGES, *ROOT.glob("kavan_tf/**/*.py"), *ROOT.glob("tests/*.py"),
             *ROOT.glob("benchmarks/*.py"), *ROOT.glob("notebooks/*.ipynb")]
    cited = {(anchor, f.relative_to(ROOT).as_posix()) for f in files
             for anchor in re.findall(r"decisions\.md#([\w-]+)", f.read_text(encoding="utf-8"))}
    assert len({anchor for anchor, _ in cited}) >= 6, "docs/decisions.md is hardly cited"
    assert not sorted(c for c in cited if c[0] not in sections)
    links = re.findall(r"\]\((\w+\.md)?#([\w-]+)\)", decisions.read_text(encoding="utf-8"))
    for page, anchor in links:
        assert anchor in _anchors(decisions.parent / (page or decisions.name)), (page, anchor)
