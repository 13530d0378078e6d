"""The labelled corpus (tests/quality_corpus, assembled by tests/quality_corpus/labelled/corpus.py).

5978 documents of the 8 types: sound ones in English, Spanish, German and French for every audience,
and unsound ones of the nine failure kinds of issue 20 (off-topic, wrong language, refusal/meta,
wrong audience, truncated, factually wrong, generic filler, mismatched pairs, shuffled order) plus
the first corpus's kinds. Three parts: "tune" and "heldout1" (the first round's split) and "heldout2"
(written before the second round's tuning, measured once after it); all three are tuning data since
the third round, and these tests hold the gate to its tuning-data figures. "heldout3" (written by
people who never read the scorer, measured once after the third round's freeze, docs/QUALITY.md) was
looked at by the fourth round, and "heldout4" (written by four other writers under the same rules while
the fourth round tuned, measured once after its freeze) by the fifth: both are seen data now, and
these tests hold the gate to the fifth round's figures on them; "heldout5" to "heldout17" (the fifth to
seventeenth rounds' held-out parts) were looked at by the sixth to eighteenth rounds and are seen data too.
"heldout18" (written by four more writers while the eighteenth round tuned, committed before that round's
scorer and before it was ever scored, measured once on the frozen scorer) is the held-out part: its
floors are the figures published in docs/QUALITY.md (`python -m bench quality` prints each part).
"""

from __future__ import annotations

import json
import pytest
from pydantic import ValidationError

from functions.generate import content_types
from functions.generate.quality import assess
from tests.quality_corpus.labelled import corpus

ENTRIES = corpus.load()
# Kept for the tests that pick a corpus document of one kind (tests/generate).
MUST_PASS = [{**e, "name": e["id"]} for e in ENTRIES if e["label"] == "pass"]
MUST_FAIL = [{**e, "name": e["id"]} for e in ENTRIES if e["label"] == "fail"]

# Every part written so far ("tune", "heldout1", "heldout2") is tuning data since issue 20's third round:
# the thresholds and lexicons were set looking at all of them, so these floors say only that tuning did
# not regress (docs/QUALITY.md "Tuning-data figures"). A part written after the scorer's freeze and
# measured once is the honest figure; its floors are added with it.
TUNING_SPLITS = ("tune", "heldout1", "heldout2")
# heldout18, measured once on the eighteenth round's frozen scorer (c22983b; no judge, default
# thresholds): precision 0.990, recall 0.802 (207/258), false-reject rate 0.025 (2/80). On the same part,
# the same hour: the seventeenth, thirteenth and twelfth rounds' scorers (fe563c6, f45cc59, 36ade13) also
# 2/80, the sixteenth's (c61d67f) 2/80 with recall 0.806; the seventh's (ec3e573) 3/80; the fifth's
# (eed81d8) 6/80. An easier part than the ones before it, not a better scorer: see docs/QUALITY.md.
# Floors are the published figures rounded down.
PUBLISHED_HELD_OUT = {"precision": 0.99, "recall": 0.80, "false_reject_rate": 0.025}
PUBLISHED_HELD_OUT_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.85, "off_topic": 0.96,
    "mismatched": 0.76, "shuffled": 0.43, "generic_filler": 0.25, "contradictory": 0.25, "factually_wrong": 0.0,
}
# heldout17 was measured once on the seventeenth round's frozen scorer (fe563c6; no judge, default
# thresholds): precision 0.972, recall 0.805 (206/256), false-reject rate 0.075 (6/80), docs/QUALITY.md
# "Held-out figures (heldout17)". The eighteenth round tuned on its false rejects, so it is seen data and
# these floors are the eighteenth round's figures. Shuffled (18/44 -> 17/44) is below the published
# figure: a shuffle of a unit outline "caught" only because its source was falsely rejected.
SEEN_HELDOUT17 = {"precision": 0.99, "recall": 0.80, "false_reject_rate": 0.025}
SEEN_HELDOUT17_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.75, "off_topic": 0.96,
    "mismatched": 0.82, "shuffled": 0.38, "generic_filler": 0.75, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout16 was measured once on the sixteenth round's frozen scorer (c61d67f; no judge, default
# thresholds): precision 0.977, recall 0.803 (212/264), false-reject rate 0.0625 (5/80), docs/QUALITY.md
# "Held-out figures (heldout16)". The seventeenth round tuned on its false rejects, so it is seen data and
# these floors are the seventeenth round's figures.
SEEN_HELDOUT16 = {"precision": 0.98, "recall": 0.80, "false_reject_rate": 0.0375}
SEEN_HELDOUT16_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.83, "off_topic": 0.82,
    "mismatched": 0.78, "shuffled": 0.45, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout15 was measured once on the fifteenth round's frozen scorer (3eb56b9; no judge, default
# thresholds): precision 0.977, recall 0.820 (214/261), false-reject rate 0.0625 (5/80), docs/QUALITY.md
# "Held-out figures (heldout15)". The sixteenth round tuned on its false rejects, so it is seen data and
# these floors are the sixteenth round's figures.
SEEN_HELDOUT15 = {"precision": 0.99, "recall": 0.81, "false_reject_rate": 0.025}
SEEN_HELDOUT15_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.81, "off_topic": 0.85,
    "mismatched": 0.8, "shuffled": 0.54, "generic_filler": 0.5, "contradictory": 0.0, "factually_wrong": 0.25,
}
# heldout14 was measured once on the fourteenth round's frozen scorer (1c8a23b; no judge, default
# thresholds): precision 0.982, recall 0.817 (215/263), false-reject rate 0.05 (4/80), docs/QUALITY.md
# "Held-out figures (heldout14)". The fifteenth round tuned on its false rejects, so it is seen data and
# these floors are the latest round's figures. Shuffled (20/44 -> 18/44) is below the published
# figure: variants "caught" only because their source (a Spanish elementary reading, an English
# middle-school reading) was falsely rejected.
SEEN_HELDOUT14 = {"precision": 0.99, "recall": 0.8, "false_reject_rate": 0.025}
SEEN_HELDOUT14_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 0.98, "wrong_audience": 0.87, "off_topic": 0.93,
    "mismatched": 0.8, "shuffled": 0.4, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout13 was measured once on the thirteenth round's frozen scorer (f45cc59; no judge, default
# thresholds): precision 0.977, recall 0.794 (208/262), false-reject rate 0.0625 (5/80), docs/QUALITY.md
# "Held-out figures (heldout13)". The fourteenth round tuned on its false rejects and misses, so it is
# seen data and these floors are the latest round's figures. Mismatched (40/52 -> 39/52) and shuffled
# (19/44 -> 18/44) are below the published figures: variants "caught" only because their source (a key
# concept ending "the thing you are saving for") was falsely rejected.
SEEN_HELDOUT13 = {"precision": 0.99, "recall": 0.79, "false_reject_rate": 0.0125}
SEEN_HELDOUT13_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 0.98, "wrong_audience": 0.86, "off_topic": 0.89,
    "mismatched": 0.75, "shuffled": 0.38, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout12 was measured once on the twelfth round's frozen scorer (36ade13; no judge, default
# thresholds): precision 0.960, recall 0.823 (218/265), false-reject rate 0.1125 (9/80), docs/QUALITY.md
# "Held-out figures (heldout12)". The thirteenth round tuned on its false rejects, so it is seen data and
# these floors are the thirteenth round's figures: precision 0.991, recall 0.808, false-reject rate
# 0.025 (2/80). Shuffled (21/44 -> 17/44) and wrong audience (22/27 -> 20/27) are below the published
# figures: variants "caught" only because their source was falsely rejected (a key concept ending "or
# more", a contradiction read into "A, not B", a paycheck's two cases, an elementary outline's own terms).
# Since the fourteenth round its floors are the latest round's figures.
SEEN_HELDOUT12 = {"precision": 0.99, "recall": 0.81, "false_reject_rate": 0.025}
SEEN_HELDOUT12_KINDS = {
    "refusal": 1.0, "wrong_language": 0.96, "truncated": 1.0, "wrong_audience": 0.74, "off_topic": 0.96,
    "mismatched": 0.87, "shuffled": 0.38, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.0,
}
# Since the sixteenth round (a scenario the next sentence carries on is an example; "Zum Schluss" is a
# weak closing; an elementary unit outline keeps the "child's words" excuse up to 2.5 grades past the
# band) the floors of every seen part are that round's figures. Below the earlier floors: 5 shuffled
# variants (heldout3, heldout10, heldout11, heldout13, the first corpus's good study guide) whose
# misplaced scenario the next sentence happens to carry on, whose only strong marker was "Zum Schluss",
# or whose source was falsely rejected.
# Since the fifteenth round (Spanish elementary text in a child's words; middle-school text too hard
# from grade 11) the floors of every seen part were that round's figures. Below the earlier floors:
# shuffled variants of the two sound sources it no longer rejects (heldout8, heldout14), and two
# factually wrong documents (heldout11, heldout13) that had been "caught" only by the middle-school
# margin, at grades 10-11: their facts are the judge's job.
# Since the fourteenth round (years run backwards only within a paragraph; a relative clause without
# "which" strands its preposition; single quotation marks show a quoted example; a text about something
# else fails on weak coverage with its objectives untaught; French text screened for children) the
# floors of every seen part were that round's figures; no seen part lost a figure to it except heldout13
# (above).
# Since the thirteenth round (quantities left open and closing word lists end a text; an expletive "it";
# "A, not B" and cases under conditions are no contradiction; an elementary text's own terms; a stricter
# outline pairing limit; a little more vocabulary far below a band; generic words in Spanish, French and
# German) the floors of every seen part were that round's figures. Below the earlier floors: variants
# "caught" only because their source was falsely rejected (shuffled in heldout5, 7, 9, 10; a truncated
# outline in heldout10, caught by the pairing check), and two outline mismatches (heldout4, heldout8) at
# lexical ratios 0.46-0.47, between the new limit and the old.
# Since the twelfth round (elementary text with a child's sentences and words; objectives and questions
# assert nothing; implied infinitives; inflected titles; closings in a conclusion, sections pointing at
# their heading, and no second order signal from word overlap) the floors of every seen part were that
# round's figures. Below the earlier floors: shuffled variants whose source, a sound document, was
# falsely rejected (pass now, so their variants count as missed unless caught for their own order), and
# a few caught only by the order check's word-overlap signal, which sound prose matched as often: one
# generic filler (heldout5), 4 shuffled scripts and readings, a hand-written shuffled podcast (heldout3).
# heldout3 was measured once (2026-12-04, scorer 6f9cb53, no judge: precision 0.896, recall 0.804,
# false-reject rate 0.31, docs/QUALITY.md "Held-out figures (heldout3)"); the fourth round tuned on its
# causes, so since then it is seen data and these floors are the fifth round's figures on it. Raise
# them when the gate improves. (The fourth round's recall fell from 0.804 to 0.780: 5 variants had been
# "caught" only because their source, a sound document, was falsely rejected.)
SEEN_HELDOUT3 = {"precision": 1.0, "recall": 0.8, "false_reject_rate": 0.0}
SEEN_HELDOUT3_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.88, "off_topic": 0.76,
    "mismatched": 0.83, "shuffled": 0.43, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.66,
}
# heldout4 was measured once on the fourth round's frozen scorer (891d964; no judge, default thresholds):
# precision 0.951, recall 0.813, false-reject rate 0.138 (11/80), docs/QUALITY.md "Held-out figures
# (heldout4)". The fifth round tuned on its false rejects, so it is seen data and these floors are the
# fifth round's figures: precision 0.995, recall 0.809, false-reject rate 0.0125 (1/80). Shuffled
# (25/47 -> 23/47) and wrong audience (21/24 -> 20/24) are below the published figures: 6 variants had
# been "caught" only because their source, a sound document, was falsely rejected (a contradiction
# read into worked examples, a quoted myth, a lesson of English, a German outline); 3 shuffled scripts
# are caught now for what is wrong with them.
SEEN_HELDOUT4 = {"precision": 1.0, "recall": 0.8, "false_reject_rate": 0.0}
SEEN_HELDOUT4_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.87, "off_topic": 0.86,
    "mismatched": 0.81, "shuffled": 0.38, "generic_filler": 1.0, "contradictory": 0.25, "factually_wrong": 0.0,
}
# heldout5 was measured once on the fifth round's frozen scorer (5ab044b; no judge, default thresholds):
# precision 0.950, recall 0.788, false-reject rate 0.138 (11/80), docs/QUALITY.md "Held-out figures
# (heldout5)". The sixth round tuned on its false rejects, so it is seen data and these floors are the
# seventh round's figures: precision 0.986, recall 0.777, false-reject rate 0.0375 (3/80). Shuffled
# (25/47 -> 21/47) is below the published figure: 4 variants had been "caught" only because their
# source, a sound document, was falsely rejected.
# Seventeenth round: recall 0.79 -> 0.78 and shuffled 0.42 -> 0.40 (19/47): a shuffle of a reading
# whose moved "But..." happened to open a section, which a section may do against the one before it.
SEEN_HELDOUT5 = {"precision": 0.99, "recall": 0.78, "false_reject_rate": 0.025}
SEEN_HELDOUT5_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.74, "off_topic": 0.85,
    "mismatched": 0.82, "shuffled": 0.40, "generic_filler": 0.75, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout6 was measured once on the sixth round's frozen scorer (09a2ce0; no judge, default thresholds):
# precision 0.948, recall 0.813, false-reject rate 0.15 (12/80), docs/QUALITY.md "Held-out figures
# (heldout6)". The seventh round tuned on its false rejects, so it is seen data and these floors are the
# seventh round's figures: precision 0.986, recall 0.790, false-reject rate 0.0375 (3/80). Shuffled
# (22/44 -> 17/44) and mismatched (45/51 -> 43/51) are below the published figures: 7 variants had been
# "caught" only because their source was falsely rejected (and one script's shuffle is missed now).
SEEN_HELDOUT6 = {"precision": 0.99, "recall": 0.79, "false_reject_rate": 0.0125}
SEEN_HELDOUT6_KINDS = {
    "refusal": 1.0, "wrong_language": 0.96, "truncated": 1.0, "wrong_audience": 0.78, "off_topic": 0.86,
    "mismatched": 0.84, "shuffled": 0.36, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout7 was measured once on the seventh round's frozen scorer (ec3e573; no judge, default thresholds):
# precision 0.961, recall 0.823, false-reject rate 0.1125 (9/80), docs/QUALITY.md "Held-out figures
# (heldout7)". The eighth round tuned on its false rejects, so it is seen data and these floors are the
# eighth round's figures: precision 0.977, recall 0.812, false-reject rate 0.0625 (5/80). Contradictory
# (2/4 -> 0/4) is below the published figure: both were "caught" only because a reading without
# references failed factual, which no longer fails a document alone.
SEEN_HELDOUT7 = {"precision": 0.99, "recall": 0.81, "false_reject_rate": 0.025}
SEEN_HELDOUT7_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.84, "off_topic": 0.93,
    "mismatched": 0.92, "shuffled": 0.29, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout8 was measured once on the eighth round's frozen scorer (030b5bc; no judge, default thresholds):
# precision 0.952, recall 0.823, false-reject rate 0.1375 (11/80), docs/QUALITY.md "Held-out figures
# (heldout8)". The ninth round tuned on its false rejects, so it is seen data and these floors are the
# ninth round's figures: precision 0.964, recall 0.804, false-reject rate 0.1 (8/80). Mismatched
# (43/51 -> 41/51) and shuffled (18/44 -> 16/44) are below the published figures: variants "caught" only
# because their source was falsely rejected, and a card set whose swapped definitions only words saw.
# Seventeenth round: shuffled 0.29 -> 0.27 (12/44), a shuffled French reading whose moved "Pourtant..."
# happened to open a section.
SEEN_HELDOUT8 = {"precision": 0.98, "recall": 0.79, "false_reject_rate": 0.05}
SEEN_HELDOUT8_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.91, "off_topic": 0.9,
    "mismatched": 0.78, "shuffled": 0.27, "generic_filler": 0.75, "contradictory": 0.5, "factually_wrong": 0.0,
}
# heldout9 was measured once on the ninth round's frozen scorer (4d25b3d; no judge, default thresholds):
# precision 0.952, recall 0.824, false-reject rate 0.1375 (11/80), docs/QUALITY.md "Held-out figures
# (heldout9)". The tenth round tuned on its false rejects, so it is seen data and these floors are the
# tenth round's figures: precision 0.973, recall 0.817, false-reject rate 0.075 (6/80). Shuffled
# (25/44 -> 23/44) is below the published figure: two variants had been "caught" only because their
# source was falsely rejected.
SEEN_HELDOUT9 = {"precision": 0.99, "recall": 0.82, "false_reject_rate": 0.025}
SEEN_HELDOUT9_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 1.0, "wrong_audience": 0.92, "off_topic": 0.86,
    "mismatched": 0.89, "shuffled": 0.4, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout10 was measured once on the tenth round's frozen scorer (42ea9ef; no judge, default thresholds):
# precision 0.959, recall 0.786, false-reject rate 0.1125 (9/80), docs/QUALITY.md "Held-out figures
# (heldout10)". The eleventh round tuned on its false rejects, so it is seen data and these floors are
# the eleventh round's figures: precision 0.967, recall 0.782, false-reject rate 0.0875 (7/80).
# Mismatched (40/52 -> 39/52) is below the published figure: a variant "caught" only because its
# source was falsely rejected.
SEEN_HELDOUT10 = {"precision": 0.99, "recall": 0.78, "false_reject_rate": 0.0125}
SEEN_HELDOUT10_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 0.98, "wrong_audience": 0.82, "off_topic": 0.85,
    "mismatched": 0.75, "shuffled": 0.45, "generic_filler": 0.75, "contradictory": 0.0, "factually_wrong": 0.0,
}
# heldout11 was measured once on the eleventh round's frozen scorer (24bfde3; no judge, default
# thresholds): precision 0.956, recall 0.823, false-reject rate 0.125 (10/80), docs/QUALITY.md "Held-out
# figures (heldout11)". The twelfth round tuned on its false rejects, so it is seen data; its floors were
# the twelfth round's figures (precision 0.995, recall 0.805, false-reject rate 0.0125, 1/80) and are
# the thirteenth's since.
# Shuffled (20/44 -> 15/44) is below the published figure: variants "caught" only because their source
# was falsely rejected.
SEEN_HELDOUT11 = {"precision": 1.0, "recall": 0.81, "false_reject_rate": 0.0}
SEEN_HELDOUT11_KINDS = {
    "refusal": 1.0, "wrong_language": 1.0, "truncated": 0.98, "wrong_audience": 0.84, "off_topic": 0.89,
    "mismatched": 0.9, "shuffled": 0.31, "generic_filler": 1.0, "contradictory": 0.0, "factually_wrong": 0.5,
}
# The sixteenth round's figures (shuffled 0.32 -> 0.30, 22/71: a shuffle of the first corpus's good study guide
# whose misplaced scenario the next sentence happens to carry on) on tune + heldout1 + heldout2, which since the fourth round include 23 new
# sound documents (ids "q4-") and their variants. Factually wrong is 0/10 since the ninth round: the one
# caught before (planet flashcards) was caught by the pairing check, not for its facts (the judge's job).
PUBLISHED_TUNING = {"precision": 0.99, "recall": 0.81, "false_reject_rate": 0.018}
PUBLISHED_TUNING_KINDS = {
    "off_topic": 0.91, "wrong_language": 1.0, "refusal": 1.0, "wrong_audience": 0.85, "truncated": 1.0,
    "generic_filler": 1.0, "mismatched": 0.82, "shuffled": 0.3, "factually_wrong": 0.0,
}


SPLITS = ("tune", "heldout1", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6", "heldout7", "heldout8",
          "heldout9", "heldout10", "heldout11", "heldout12", "heldout13", "heldout14", "heldout15", "heldout16",
          "heldout17", "heldout18")


def _reports(split: str) -> dict[str, object]:
    """One part's reports, checked to say why for every failing dimension. Each part is assessed by
    exactly one test (its floors, or the tuning data's), so xdist workers never assess a part twice."""
    reports = {e["id"]: assess(e["content_type"], e["content"], topic=e["topic"], audience=e["audience"],
                               learning_objectives=e["learning_objectives"] or None, language=e["language"])
               for e in ENTRIES if e["split"] == split}
    _assert_every_rejected_document_says_why(reports)
    return reports


def _assert_every_rejected_document_says_why(reports: dict[str, object]) -> None:
    """Reasons for each failing dimension of every rejected document, and none for a passing one."""
    for e_id, report in reports.items():
        reasons = report.reasons()
        if report.passed:
            assert reasons == [], e_id
            continue
        assert {r["dimension"] for r in reasons} == set(report.failing_dimensions()), e_id
        assert all(r["finding"] and not r["finding"].startswith(f"{r['dimension']}:") for r in reasons), e_id


def test_corpus_size_spread_and_split():
    assert len(ENTRIES) >= 300
    assert len({e["id"] for e in ENTRIES}) == len(ENTRIES)
    assert {e["content_type"] for e in ENTRIES} == set(content_types.CONTENT_TYPES)
    assert set(corpus.ISSUE_KINDS) <= {e["kind"] for e in ENTRIES}
    sound = [e for e in ENTRIES if e["label"] == "pass"]
    assert {e["language"] for e in sound} >= {"en", "es", "de", "fr"}
    assert {e["audience"] for e in sound} >= {"elementary", "middle_school", "high_school", "college",
                                              "adult_learning", "general"}
    assert {e["split"] for e in ENTRIES} == set(SPLITS)
    # Every part is assessed (and its reasons checked) by exactly one test: its floors or the tuning data's.
    held_out = [split for split, *_ in HELD_OUT_FLOORS]
    assert sorted(held_out + list(TUNING_SPLITS)) == sorted(SPLITS)
    for split in SPLITS:
        part = [e for e in ENTRIES if e["split"] == split]
        assert {e["kind"] for e in part} >= set(corpus.ISSUE_KINDS), split
    # The split follows its rule and keeps every variant with its source document.
    assert all(e["split"] == corpus.split_of(e["id"]) for e in ENTRIES)
    assert all(e["split"] == corpus.split_of(e["derived_from"]) for e in ENTRIES if "derived_from" in e)


def test_derived_variants_are_reproducible():
    written = corpus.derive(corpus._hand_written())
    stored = json.loads((corpus.HERE / "derived.json").read_text())
    assert written == stored, "run python -m tests.quality_corpus.labelled.corpus and commit the result"
    for _, written_path, derived_path in corpus.HELD_OUT_PARTS.values():
        assert corpus.derive(json.loads(written_path.read_text())) == json.loads(derived_path.read_text())


@pytest.mark.parametrize("split", SPLITS)
def test_every_corpus_document_is_schema_valid(split):
    # A must-fail document the schema already rejects would test nothing about the gate. One test per
    # part, naming every invalid document (one test per document cost more in pytest than in pydantic).
    invalid = []
    for entry in (e for e in ENTRIES if e["split"] == split):
        try:
            content_types.validate(entry["content_type"], entry["content"])
        except ValidationError as exc:
            invalid.append(f"{entry['id']}: {exc.error_count()} errors")
    assert invalid == []


HELD_OUT_FLOORS = [
    ("heldout18", (80, 258), PUBLISHED_HELD_OUT, PUBLISHED_HELD_OUT_KINDS),
    ("heldout17", (80, 256), SEEN_HELDOUT17, SEEN_HELDOUT17_KINDS),
    ("heldout16", (80, 264), SEEN_HELDOUT16, SEEN_HELDOUT16_KINDS),
    ("heldout15", (80, 261), SEEN_HELDOUT15, SEEN_HELDOUT15_KINDS),
    ("heldout14", (80, 263), SEEN_HELDOUT14, SEEN_HELDOUT14_KINDS),
    ("heldout13", (80, 262), SEEN_HELDOUT13, SEEN_HELDOUT13_KINDS),
    ("heldout12", (80, 265), SEEN_HELDOUT12, SEEN_HELDOUT12_KINDS),
    ("heldout11", (80, 266), SEEN_HELDOUT11, SEEN_HELDOUT11_KINDS),
    ("heldout10", (80, 266), SEEN_HELDOUT10, SEEN_HELDOUT10_KINDS),
    ("heldout9", (80, 262), SEEN_HELDOUT9, SEEN_HELDOUT9_KINDS),
    ("heldout8", (80, 265), SEEN_HELDOUT8, SEEN_HELDOUT8_KINDS),
    ("heldout7", (80, 266), SEEN_HELDOUT7, SEEN_HELDOUT7_KINDS),
    ("heldout6", (80, 267), SEEN_HELDOUT6, SEEN_HELDOUT6_KINDS),
    ("heldout5", (80, 264), SEEN_HELDOUT5, SEEN_HELDOUT5_KINDS),
    ("heldout4", (80, 262), SEEN_HELDOUT4, SEEN_HELDOUT4_KINDS),
    ("heldout3", (65, 214), SEEN_HELDOUT3, SEEN_HELDOUT3_KINDS),
]


@pytest.mark.parametrize("split, size, floors, kinds", HELD_OUT_FLOORS)
def test_held_out_parts_stay_at_or_above_their_floors(split, size, floors, kinds):
    reports = _reports(split)
    figures = corpus.evaluate([e for e in ENTRIES if e["split"] == split],
                              {i: not r.passed for i, r in reports.items()})
    assert (figures["sound"], figures["unsound"]) >= size, figures
    assert figures["precision"] >= floors["precision"], figures
    assert figures["recall"] >= floors["recall"], figures
    assert figures["false_reject_rate"] <= floors["false_reject_rate"], figures
    assert set(figures["kinds"]) == set(kinds)
    for kind, floor in kinds.items():
        assert figures["kinds"][kind]["recall"] >= floor, (kind, figures["kinds"][kind], figures["missed"])


def test_tuning_figures_stay_at_or_above_the_published_ones():
    reports = {i: r for split in TUNING_SPLITS for i, r in _reports(split).items()}
    tuning = [e for e in ENTRIES if e["split"] in TUNING_SPLITS]
    figures = corpus.evaluate(tuning, {i: not r.passed for i, r in reports.items()})
    assert figures["sound"] >= 114 and figures["unsound"] >= 438, figures
    assert figures["precision"] >= PUBLISHED_TUNING["precision"], figures
    assert figures["recall"] >= PUBLISHED_TUNING["recall"], figures
    assert figures["false_reject_rate"] <= PUBLISHED_TUNING["false_reject_rate"], figures
    for kind, floor in PUBLISHED_TUNING_KINDS.items():
        assert figures["kinds"][kind]["recall"] >= floor, (kind, figures["kinds"][kind], figures["missed"])
