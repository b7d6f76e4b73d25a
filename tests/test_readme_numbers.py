"""The numbers and facts README.md quotes, checked; and that the checks follow meaning, not wording.

README.md anchors its numbers and facts as REPORT.md does (document_numbers.py
says how), and its headline table is a table of computed rows. The last
tests run the checker on altered copies of both documents: a quoted number
changed by one digit must fail, and every word outside the anchored numbers
replaced must still pass, so that rewording a sentence around its numbers
needs no test edit while a wrong number cannot go unnoticed.
"""

import re
from functools import lru_cache

import pytest

from document_numbers import (ARCHITECTURES, NUMBER_ANCHOR, PROJECT_DIR, README, REPORT, anchored_facts,
                              anchored_numbers, anchored_tables, normalized, number_problems)
from quoted_numbers import FACTS, NUMBERS
from trajectory_numbers import headline_training_row


@lru_cache(maxsize=None)
def expected_number(key):
    """The text the pickles give for a number key (computed once), or None for a key nothing computes."""
    return NUMBERS[key]() if key in NUMBERS else None


def text_of(name):
    return (PROJECT_DIR / name).read_text(encoding="utf-8")


def test_readme_quotes_numbers_by_anchor():
    assert len(anchored_numbers(text_of(README))) >= 15


def test_every_anchored_number_of_the_readme_is_the_pickles():
    problems = number_problems(text_of(README), expected_number)
    assert not problems, "README.md:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", sorted(set(anchored_facts(text_of(README)))))
def test_every_anchored_fact_of_the_readme_holds(name):
    assert name in FACTS, f"README.md states a fact {name} that no predicate checks"
    assert FACTS[name](), f"README.md states {name} ({FACTS[name].__doc__ or ''}), and the pickles say otherwise"


def test_the_headline_table():
    """The 20-seed study's verdicts on both endpoints, for ibs and hyb."""
    tables = [(what, table) for kind, what, table in anchored_tables(README) if kind == "rows"]
    assert [what for what, _ in tables] == ["headline_training:seeds_20"]
    rows = tables[0][1][2:]
    expected = [headline_training_row(arch, optimizer) for arch in ARCHITECTURES for optimizer in ("sgd", "adam")]
    assert rows == expected, "README.md's headline table is not the 20-seed studies':\n" + "\n".join(expected)


# ---------------------------------------------------------------------------
# The checker on altered copies of the documents
# ---------------------------------------------------------------------------

def with_one_digit_changed(text, occurrence):
    """text with the first digit after its occurrence-th number anchor changed (0 -> 1, else -> 0)."""
    anchor = list(NUMBER_ANCHOR.finditer(text))[occurrence]
    digit = re.compile(r"\d").search(text, anchor.end())
    changed = "1" if digit.group() == "0" else "0"
    return text[:digit.start()] + changed + text[digit.end():]


def reworded(text):
    """text with every word outside the anchors and their quoted numbers replaced by another word."""
    text = normalized(text)
    pieces, position = [], 0
    for match in NUMBER_ANCHOR.finditer(text):
        pieces.append(re.sub(r"[A-Za-z]+", "reworded", text[position:match.start()]))
        expected = expected_number(match.group(1)) or ""
        pieces.append(text[match.start():match.end() + len(expected)])
        position = match.end() + len(expected)
    pieces.append(re.sub(r"[A-Za-z]+", "reworded", text[position:]))
    return "".join(pieces)


@pytest.mark.parametrize("name", [README, REPORT])
def test_changing_any_quoted_number_fails(name):
    text = text_of(name)
    for occurrence in range(len(NUMBER_ANCHOR.findall(text))):
        problems = number_problems(with_one_digit_changed(text, occurrence), expected_number)
        assert len(problems) == 1, (
            f"{name}: changing a digit of anchored number {occurrence} gave {len(problems)} failures, not 1")


@pytest.mark.parametrize("name", [README, REPORT])
def test_rewording_around_the_numbers_needs_no_test_edit(name):
    text = reworded(text_of(name))
    # The copy really is reworded: hundreds of its words are replaced.
    assert text.count("reworded") > 300
    assert len(anchored_numbers(text)) == len(anchored_numbers(text_of(name)))
    assert number_problems(text, expected_number) == []


def test_an_unknown_key_fails():
    assert number_problems("<!--n:no.such.number-->1.00", expected_number) == [
        "no.such.number: no such number is computed"]


def test_a_longer_number_is_not_taken_for_the_quoted_one():
    key = next(key for key, _ in anchored_numbers(text_of(README)))
    assert number_problems(f"<!--n:{key}-->{expected_number(key)}", expected_number) == []
    assert len(number_problems(f"<!--n:{key}-->{expected_number(key)}5", expected_number)) == 1
