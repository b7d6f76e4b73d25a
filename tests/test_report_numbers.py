"""The numbers, facts and tables REPORT.md quotes from the committed studies, checked.

Every quoted number carries an anchor that names it (<!--n:KEY-->, see
document_numbers.py), and must be the text quoted_numbers.py computes for
KEY from the pickles; every stated fact carries <!--f:NAME--> and NAME must
hold. A table is named by the anchor on its line before: an excerpt of a
committed file (<!--table:STUDY/FILE[:COLUMNS][:excerpt]-->) must have the
file's header and only lines of the file (cut to COLUMNS), all of them in
order unless it is an excerpt; tests/test_committed_outputs.py shows those
files are what plots.py writes. A table of computed rows
(<!--rows:KIND:STUDIES-->) must hold exactly the rows computed here, each
found by its label. So a study rerun or a number edited without the other
fails here, and a sentence reworded around its anchors needs no test edit
(tests/test_readme_numbers.py shows both on altered copies of the documents).
"""

from functools import lru_cache
from pathlib import Path

import pytest

from document_numbers import (ARCHITECTURE_NAMES, ARCHITECTURES, EQUIVALENCE_ALPHA, EQUIVALENCE_MARGIN_PP,
                              OPTIMIZERS, ORIGINAL, PROJECT_DIR, REPORT, STUDIES, anchored_facts, optimizer_display_name,
                              anchored_numbers, anchored_tables, cells, document_lines, headline_row,
                              number_problems, original_cell, cut_row)
from quoted_numbers import FACTS, KAPPA_TABLE_ROWS, NUMBERS, kappa_table_line


def expected_number(key):
    """The text the pickles give for a number key, or None for a key nothing computes."""
    return NUMBERS[key]() if key in NUMBERS else None


def report_text():
    return (PROJECT_DIR / REPORT).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Tables copied from committed files
# ---------------------------------------------------------------------------

def study_file(name, file):
    """The path of a committed file of a study, relative to the project."""
    return (Path(STUDIES[name]).parent / file).as_posix()


@lru_cache(maxsize=None)
def file_table(name, file):
    """The Markdown table of a study's committed file: (header, separator, rows), as lines."""
    lines = (PROJECT_DIR / study_file(name, file)).read_text(encoding="utf-8").splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert len(table) > 2, f"{study_file(name, file)} has no table"
    return table[0], table[1], tuple(table[2:])


def first_columns(line, columns):
    """A table line cut to its first columns ('| a | b | c |', 2 -> '| a | b |'); all of it for None."""
    if columns is None:
        return line
    return "|".join(line.split("|")[:columns + 1]) + "|"


def excerpt_spec(what):
    """'controls/summary.md:7:excerpt' -> (study, file, columns or None, excerpt)."""
    path, *options = what.split(":")
    name, file = path.split("/")
    columns = next((int(option) for option in options if option.isdigit()), None)
    return name, file, columns, "excerpt" in options


def quoted_excerpts():
    return [(what, table) for kind, what, table in anchored_tables(REPORT) if kind == "table"]


def computed_tables():
    return [(what, table) for kind, what, table in anchored_tables(REPORT) if kind == "rows"]


# ---------------------------------------------------------------------------
# Tables whose rows are computed here, by the anchor's kind
# ---------------------------------------------------------------------------

def optimizers_of(name):
    return sorted({cell[1] for cell in cells(name)}, key=OPTIMIZERS.index)


def computed_rows(kind, names):
    """The rows a table of computed rows must hold, by its anchor (kind and studies)."""
    if kind == "headline":
        return [headline_row(names[0], arch, optimizer)
                for arch in ARCHITECTURES for optimizer in optimizers_of(names[0])]
    if kind == "cuts":
        # The cuts table's rows are the optimizers its committed studies ran (not RMSprop): a fact of the data.
        return [cut_row(arch, optimizer) for optimizer in ("sgd", "momentum", "nesterov", "adam")
                for arch in ARCHITECTURES]
    if kind == "kappa":
        return [kappa_table_line(kappa, schedule) for kappa, schedule in KAPPA_TABLE_ROWS]
    raise AssertionError(f"no rows are computed for tables of kind {kind}")


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------

def test_plots_uses_the_margin_and_level_checked_here():
    # MARGIN_PP and ALPHA are literals so that this check stays independent of plots.py.
    assert EQUIVALENCE_MARGIN_PP == 0.1
    assert EQUIVALENCE_ALPHA == 0.05


def test_every_table_with_a_study_header_is_anchored():
    # A copied table without its anchor would be checked by nothing.
    lines = document_lines(REPORT)
    for index, line in enumerate(lines):
        if line.startswith("| Architecture | Optimizer | Schedule |") and not lines[index - 1].startswith("|"):
            assert lines[index - 1].startswith("<!--table:"), f"REPORT.md's table at line {index + 1} has no anchor"


@pytest.mark.parametrize("what,table", quoted_excerpts(), ids=[what for what, _ in quoted_excerpts()])
def test_quoted_table_is_an_excerpt_of_the_committed_file(what, table):
    name, file, columns, excerpt = excerpt_spec(what)
    path = study_file(name, file)
    header, separator, rows = file_table(name, file)
    written = [first_columns(line, columns) for line in (header, separator) + rows]
    assert table[:2] == written[:2], f"REPORT.md: the table quoting {path} does not have its header:\n{table[0]}"
    quoted = table[2:]
    assert quoted, f"REPORT.md quotes no row of {path}"
    for row in quoted:
        assert row in written[2:], f"REPORT.md has a row that is not a line of {path}:\n{row}"
    assert quoted == [row for row in written[2:] if row in quoted], f"REPORT.md reorders the rows of {path}"
    if not excerpt:
        assert quoted == written[2:], f"REPORT.md does not quote every row of {path}, and says it does"


def test_every_study_summary_is_quoted():
    # A committed study whose summary no document quotes would let its numbers drift.
    quoted = {excerpt_spec(what)[0] for what, _ in quoted_excerpts() if excerpt_spec(what)[1] == "summary.md"}
    assert quoted == set(STUDIES), f"REPORT.md quotes no summary.md of {set(STUDIES) - quoted}"


@pytest.mark.parametrize("what,table", [(what, table) for what, table in computed_tables()
                                        if not what.startswith("original:")],
                         ids=[what for what, _ in computed_tables() if not what.startswith("original:")])
def test_table_of_computed_rows(what, table):
    kind, names = what.split(":")
    expected = computed_rows(kind, names.split(","))
    rows = table[2:]
    for row in expected:
        assert row in rows, f"REPORT.md's {what} table lacks, or has another, row:\n{row}"
    assert len(rows) == len(expected), f"REPORT.md's {what} table has rows nothing computes"


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
