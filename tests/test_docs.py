"""The documents' links and images point at files (and headings) that exist.

Every relative link and image in README.md, REPORT.md,
benchmarks/README.md and the documents in docs/ must name a file or
folder of the repository; a link
with an anchor must also name a heading of its Markdown file, by the anchor
GitHub gives that heading. Links to the web (http, https, mailto) are not
followed. The README, the front door, stays short.
"""

import re
from urllib.parse import unquote

import pytest

from conftest import PROJECT_DIR

DOCUMENTS = ("README.md", "REPORT.md", "benchmarks/README.md") + tuple(
    sorted(path.relative_to(PROJECT_DIR).as_posix() for path in (PROJECT_DIR / "docs").glob("*.md")))
# The front door stays short enough to read in one sitting: the claim, the
# headline table, the findings one line each, how to run and the flags; the
# detail is in REPORT.md. A new finding replaces a line or goes to its study's
# page; the cap is not raised.
README_MAX_CHARACTERS = 10_000
# The report is a narrative: the claim, the method, what differs from the
# original, and the findings in order, each linking to its study's page and
# committed tables instead of copying them. It stays readable in an hour.
REPORT_MAX_CHARACTERS = 60_000

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# [text](target) and ![alt](target), with an optional "title" after the target.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^[ ]{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$",
                                  re.MULTILINE)
HTML_REFERENCE = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=[\"']([^\"']+)[\"']", re.IGNORECASE)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose(text):
    """The text without fenced code, code spans and HTML comments, where nothing is a link."""
    return CODE_SPAN.sub("", FENCE.sub("", HTML_COMMENT.sub("", text)))


def link_targets(text):
    """Every link and image target of a Markdown text, in order."""
    text = prose(text)
    return ([match.group(1) for match in INLINE_LINK.finditer(text)]
            + [match.group(1) for match in REFERENCE_DEFINITION.finditer(text)]
            + [match.group(1) for match in HTML_REFERENCE.finditer(text)])


def heading_slug(heading):
    """The anchor GitHub gives a heading: formatting dropped, lower case, punctuation
    removed, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays
    text = text.strip().lower()
    text = "".join(character for character in text
                   if character.isalnum() or character in " -_")
    return text.replace(" ", "-")


def anchors(path):
    """The anchors of every heading of a Markdown file, repeats numbered as GitHub does."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    found, seen = set(), {}
    for match in HEADING.finditer(text):
        slug = heading_slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links():
    """(document, target) for every relative link or image of the documents."""
    links = []
    for document in DOCUMENTS:
        text = (PROJECT_DIR / document).read_text(encoding="utf-8")
        for target in link_targets(text):
            if not EXTERNAL.match(target):
                links.append((document, target))
    return links


def test_the_documents_exist():
    for document in DOCUMENTS:
        assert (PROJECT_DIR / document).is_file(), f"{document} is missing"


def test_the_documents_have_relative_links_to_check():
    # The parser must find the documents' links; an empty list would check nothing.
    documents_with_links = {document for document, _ in relative_links()}
    assert documents_with_links == set(DOCUMENTS)


@pytest.mark.parametrize("document,target", relative_links(),
                         ids=[f"{document}->{target}" for document, target in relative_links()])
def test_relative_link_exists(document, target):
    source = PROJECT_DIR / document
    path_part, _, anchor = target.partition("#")
    if path_part:
        linked = (source.parent / unquote(path_part)).resolve()
        assert linked.is_relative_to(PROJECT_DIR), f"{document}: {target} leaves the repository"
        assert linked.exists(), f"{document}: {target} names no file of the repository"
    else:
        linked = source
    if anchor and linked.suffix == ".md":
        assert unquote(anchor) in anchors(linked), (
            f"{document}: {target} names no heading of {linked.relative_to(PROJECT_DIR)}")


def test_readme_is_short():
    length = len((PROJECT_DIR / "README.md").read_text(encoding="utf-8"))
    assert length <= README_MAX_CHARACTERS, (
        f"README.md has {length:,} characters, more than {README_MAX_CHARACTERS:,}: "
        "move detail to REPORT.md")


def test_report_is_a_narrative_of_bounded_length():
    length = len((PROJECT_DIR / "REPORT.md").read_text(encoding="utf-8"))
    assert length <= REPORT_MAX_CHARACTERS, (
        f"REPORT.md has {length:,} characters, more than {REPORT_MAX_CHARACTERS:,}: link to the study's page "
        "or its committed tables instead of repeating them")


# The checker itself, on texts whose answers are known.

def test_link_targets_finds_links_and_images_but_not_code():
    text = ("See [the report](REPORT.md#findings) and ![a figure](results/a.png \"title\").\n"
            "`[not](a-link.md)` and [web](https://example.org)\n"
            "```bash\n[also not](in-a-fence.md)\n```\n"
            "<!-- [hidden](pending.md) -->\n"
            "[ref]: data/README.md\n"
            "<img src=\"results/b.png\">\n")
    assert link_targets(text) == ["REPORT.md#findings", "results/a.png", "https://example.org",
                                  "data/README.md", "results/b.png"]


@pytest.mark.parametrize("heading,slug", [
    ("Against the original's figures", "against-the-originals-figures"),
    ("Is anything different on all 60,000 training images?",
     "is-anything-different-on-all-60000-training-images"),
    ("Results folders: untrusted files, provenance, shared folders",
     "results-folders-untrusted-files-provenance-shared-folders"),
    ("The output of `benchmarks/speed.py`", "the-output-of-benchmarksspeedpy"),
    ("What this code does differently from the original, and why",
     "what-this-code-does-differently-from-the-original-and-why"),
])
def test_heading_slug_follows_github(heading, slug):
    assert heading_slug(heading) == slug


def report_contents_and_headings():
    """(the anchors REPORT.md's "Contents" links to, the anchors of its ## and ### headings after it)."""
    text = FENCE.sub("", (PROJECT_DIR / "REPORT.md").read_text(encoding="utf-8"))
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    after = text.split("## Contents", 1)[1][len(contents):]
    linked = {target.lstrip("#") for target in link_targets(contents)}
    headings = [heading_slug(match.group(2))
                for match in re.finditer(r"^(#{2,3})[ \t]+(.+?)[ \t#]*$", after, flags=re.MULTILINE)]
    return linked, headings


def test_report_contents_names_every_section():
    # A reader finds the way by the contents, so no ## or ### heading may be missing from it.
    linked, headings = report_contents_and_headings()
    assert len(headings) > 20
    missing = [heading for heading in headings if heading not in linked]
    assert not missing, f"REPORT.md's Contents does not list: {missing}"
