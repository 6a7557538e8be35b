"""Chart (PNG) and CSV outlets: valid output at or above the minimum, nothing below it."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from surveys.chart import render_png
from surveys.disclosure import Ledger, Stratum, release
from surveys.export import RESULT_COLUMNS, comments_csv, results_csv
from surveys.loader import builtin_instrument, parse_instrument
from surveys.results import change, summarize
from tests.test_survey_disclosure import _population, _smallest_exposed_group, batch, person

BELONGING = builtin_instrument("belonging")
NO_STATEMENTS = parse_instrument(
    "name: picks\ntitle: Picks\nquestions:\n  - {id: pick, kind: choice, text: Pick, options: ['=SUM(A1)', b]}\n"
)


def counts_for(instrument, n: int, spread=(1, 2, 3, 4, 5)) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for q in instrument.counted:
        for i in range(n):
            key = (q.id, spread[i % len(spread)] if q.values[0] == 1 else q.values[i % len(q.values)])
            out[key] = out.get(key, 0) + 1
    return out


def sneaky(n: int):
    """A result assembled by hand for n respondents with a minimum of 1, bypassing `summarize`."""
    result = summarize(BELONGING, 5, counts_for(BELONGING, 5))
    return replace(result, respondents=n, min_responses=1, questions=tuple(replace(q, answered=n) for q in result.questions))


def test_the_chart_is_a_valid_png_with_one_bar_row_per_statement():
    result = summarize(BELONGING, 12, counts_for(BELONGING, 12))
    png = render_png(BELONGING, result)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.verify()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    assert width >= 800 and height >= 500
    # The diverging palette is really drawn (strongly disagree red and strongly agree blue appear).
    colours = {c for _, c in image.getcolors(maxcolors=width * height)}
    assert (0xCA, 0x00, 0x20) in colours and (0x05, 0x71, 0xB0) in colours
    # More statements make a taller chart.
    fewer = replace(result, questions=result.questions[:2], index=None)
    assert Image.open(io.BytesIO(render_png(BELONGING, fewer))).size[1] < height


def test_the_chart_can_say_how_the_index_moved():
    before = summarize(BELONGING, 10, counts_for(BELONGING, 10, spread=(3,)))
    now = summarize(BELONGING, 10, counts_for(BELONGING, 10, spread=(4, 5)))
    plain, with_change = render_png(BELONGING, now), render_png(BELONGING, now, change(now, before))
    assert plain is not None and with_change is not None and plain != with_change
    assert render_png(BELONGING, now, change(now, None)) == plain


def test_the_chart_refuses_data_below_the_minimum():
    assert summarize(BELONGING, 4, counts_for(BELONGING, 4)) is None
    assert render_png(BELONGING, None) is None
    # A result assembled by hand with a looser minimum than the survey's is refused all the same.
    assert render_png(BELONGING, sneaky(4)) is None
    assert render_png(BELONGING, sneaky(5)) is not None
    # A question answered by fewer than the minimum is not drawn; with none left there is no chart.
    result = summarize(BELONGING, 6, counts_for(BELONGING, 6))
    thin = replace(result, questions=tuple(replace(q, answered=3) for q in result.questions))
    assert render_png(BELONGING, thin) is None


def test_no_chart_without_agreement_statements():
    result = summarize(NO_STATEMENTS, 6, {("pick", 0): 6})
    assert result is not None and render_png(NO_STATEMENTS, result) is None


def test_csv_has_one_row_per_question_and_value_with_its_summary_and_change():
    before = summarize(BELONGING, 10, counts_for(BELONGING, 10, spread=(3,)))
    now = summarize(BELONGING, 10, counts_for(BELONGING, 10, spread=(4, 5)))
    text = results_csv(BELONGING, now, change(now, before))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == RESULT_COLUMNS
    assert len(rows) == 8 * 5
    first = [r for r in rows if r["question_id"] == "belong"]
    assert [r["value"] for r in first] == ["1", "2", "3", "4", "5"]
    assert [r["count"] for r in first] == ["0", "0", "0", "5", "5"]
    top = first[-1]
    assert (top["label"], top["percent"], top["answered"], top["mean"], top["favourable_percent"]) == (
        "Strongly agree", "50.00", "10", "4.50", "100.00")
    assert (top["change_mean"], top["change_favourable"], top["belonging_index"]) == ("1.50", "100.00", "100.00")


def test_csv_refuses_below_the_minimum_and_neutralises_formulas():
    assert results_csv(BELONGING, summarize(BELONGING, 4, counts_for(BELONGING, 4))) is None
    assert results_csv(BELONGING, sneaky(4)) is None
    assert results_csv(BELONGING, sneaky(5)) is not None
    text = results_csv(NO_STATEMENTS, summarize(NO_STATEMENTS, 6, {("pick", 0): 6}))
    labels = [r["label"] for r in csv.DictReader(io.StringIO(text))]
    assert labels == ["'=SUM(A1)", "b"]


@pytest.mark.parametrize(("respondents", "shown"), [(5, False), (7, True)])
def test_comments_csv_follows_the_comment_minimum(respondents, shown):
    strict = replace(BELONGING, settings=replace(BELONGING.settings, comment_min_responses=7))
    result = summarize(strict, respondents, counts_for(strict, respondents))
    text = comments_csv(strict, result, ["Thanks", "=cmd", "A lot"])
    if not shown:
        assert text is None
    else:
        assert text.splitlines() == ["comment", "'=cmd", "A lot", "Thanks"]
    assert comments_csv(strict, None, ["x"] * 9) is None


# -- the whole pure pipeline: disclosure decides, results summarise, outlets render ---------------------------

def _one_statement(k: int):
    head = f"name: one\ntitle: One\nsettings: {{min_responses: {k}}}\n"
    return parse_instrument(head + "questions:\n  - {id: a, kind: agreement, text: A}\n")


@settings(max_examples=60, deadline=None)
@given(
    people=st.lists(st.tuples(person, st.integers(min_value=1, max_value=5)), min_size=3, max_size=12),
    batches=st.lists(batch, min_size=1, max_size=5),
    k=st.integers(min_value=3, max_value=5),
)
def test_every_csv_an_outlet_produces_sums_at_least_k_answer_sets_and_none_can_be_subtracted(people, batches, k):
    instrument = _one_statement(k)
    everyone = [p for p, _ in people]
    answers = [v for _, v in people]
    ledger = Ledger()
    published: set[frozenset[int]] = set()
    for _outlet, request, _late in batches:
        population = _population(everyone)
        if isinstance(request, tuple):
            continue  # breakdown requests are covered in test_survey_disclosure; here, explicit cells
        decision = release(ledger, request, population, k)
        ledger = decision.ledger
        for cell in request:
            members = [i for i, (run, ls) in enumerate(everyone) if cell.contains(Stratum(run, tuple(sorted(ls))))]
            counts: dict[tuple[str, int], int] = {}
            for i in members:
                counts[("a", answers[i])] = counts.get(("a", answers[i]), 0) + 1
            # The outlet renders only what the rules allowed; summarize and the CSV re-check the minimum.
            result = summarize(instrument, len(members), counts) if cell in decision.shown else None
            text = results_csv(instrument, result)
            if text is not None:
                assert len(members) >= k and cell in decision.shown
                published.add(frozenset(members))
            elif cell in decision.shown:
                raise AssertionError("a cell the rules allowed was not rendered")
    assert _smallest_exposed_group(published, len(everyone), k) is None
