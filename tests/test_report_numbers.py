"""The numbers, facts and tables REPORT.md quotes from the committed studies, checked.

Every quoted number carries an anchor that names it (<!--n:KEY-->, see
document_numbers.py), and must be the text quoted_numbers.py computes for
KEY from the pickles; every stated fact carries <!--f:NAME--> and NAME must
hold. The report copies no committed table: it links to a study's
summary.md, stages.md or trajectory.md, which tests/test_committed_outputs.py
shows are what plots.py writes. A table of computed rows
(<!--rows:KIND:STUDIES-->), one whose layout no committed file has, must
hold exactly the rows computed here, each found by its label. So a study
rerun or a number edited without the other fails here, and a sentence
reworded around its anchors needs no test edit (tests/test_readme_numbers.py
shows both on altered copies of the documents).
"""

import pytest

from document_numbers import (ARCHITECTURE_NAMES, EQUIVALENCE_ALPHA, EQUIVALENCE_MARGIN_PP, OPTIMIZERS, ORIGINAL,
                              PROJECT_DIR, REPORT, anchored_facts, anchored_numbers, anchored_tables, cells,
                              document_lines, number_problems, optimizer_display_name, original_cell)
from quoted_numbers import FACTS, NUMBERS


def expected_number(key):
    """The text the pickles give for a number key, or None for a key nothing computes."""
    return NUMBERS[key]() if key in NUMBERS else None


def report_text():
    return (PROJECT_DIR / REPORT).read_text(encoding="utf-8")


def computed_tables():
    return [(what, table) for kind, what, table in anchored_tables(REPORT) if kind == "rows"]


def optimizers_of(name):
    return sorted({cell[1] for cell in cells(name)}, key=OPTIMIZERS.index)


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------

def test_plots_uses_the_margin_and_level_checked_here():
    # MARGIN_PP and ALPHA are literals so that this check stays independent of plots.py.
    assert EQUIVALENCE_MARGIN_PP == 0.1
    assert EQUIVALENCE_ALPHA == 0.05


def test_no_committed_table_is_copied():
    # A study's tables are committed beside its pickle (and checked there by
    # tests/test_committed_outputs.py); the report links to them instead of copying them.
    lines = document_lines(REPORT)
    assert not [kind for kind, _, _ in anchored_tables(REPORT) if kind == "table"], "REPORT.md copies a committed table"
    for index, line in enumerate(lines):
        if line.startswith("| Architecture | Optimizer | Schedule |"):
            raise AssertionError(f"REPORT.md's line {index + 1} starts a copy of a study's table")


def test_the_only_computed_table_is_the_one_against_the_original():
    # The report's other tables link to the studies' committed files; this one sets the original's figures,
    # which no study holds, beside three studies.
    assert [what.split(":")[0] for what, _ in computed_tables()] == ["original"]


def test_table_against_the_original():
    tables = [table for what, table in computed_tables() if what.startswith("original:")]
    assert len(tables) == 1, "REPORT.md has no table against the original's figures"
    names = [what for what, _ in computed_tables() if what.startswith("original:")][0].split(":")[1].split(",")
    for name in names:
        for arch, optimizer in ORIGINAL:
            if optimizer not in optimizers_of(name):
                continue
            label = f"| {ARCHITECTURE_NAMES[arch]}, {optimizer_display_name(optimizer)} |"
            rows = [line for line in tables[0] if line.startswith(label)]
            assert len(rows) == 1, f"REPORT.md's table against the original has {len(rows)} rows {label}"
            original = " / ".join(f"{value:.1f}" for value in ORIGINAL[arch, optimizer])
            assert f"{label} {original} |" in rows[0]
            assert f"| {original_cell(name, arch, optimizer)} |" in rows[0], (
                f"REPORT.md: the {name} cell of {label} is not {original_cell(name, arch, optimizer)}")


def test_report_quotes_numbers_by_anchor():
    # The report quotes well over a hundred numbers; an empty list would check nothing.
    assert len(anchored_numbers(report_text())) > 100


def test_every_anchored_number_is_the_pickles():
    problems = number_problems(report_text(), expected_number)
    assert not problems, "REPORT.md:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", sorted(set(anchored_facts(report_text()))))
def test_every_anchored_fact_holds(name):
    assert name in FACTS, f"REPORT.md states a fact {name} that no predicate checks"
    assert FACTS[name](), f"REPORT.md states {name} ({FACTS[name].__doc__ or ''}), and the pickles say otherwise"


def test_every_computed_number_and_fact_is_quoted():
    # A number or fact computed here but anchored nowhere is a check of nothing.
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    quoted = {key for text in (readme, report_text()) for key, _ in anchored_numbers(text)}
    stated = set(anchored_facts(readme)) | set(anchored_facts(report_text()))
    assert set(NUMBERS) - quoted == set(), f"computed but quoted nowhere: {sorted(set(NUMBERS) - quoted)}"
    assert set(FACTS) - stated == set(), f"checked but stated nowhere: {sorted(set(FACTS) - stated)}"
