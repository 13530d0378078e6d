"""The labelled corpus (tests/quality_corpus/*.json): every must-pass document passes the gate,
every must-fail document fails it, for all 8 content types and every failure kind.

Each file holds `must_pass` (sound documents written for this corpus, some in Spanish or German)
and `must_fail` (word salad stuffed with the phrases a marker-counting scorer rewards, marker
stuffing, off-topic text under the right title, one sentence repeated, the wrong language, placeholder
text, self-contradiction, known myths). The good documents of tests/quality_docs count as must-pass too.
docs/QUALITY.md reports precision and recall on this corpus (`python -m bench quality`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.generate import content_types
from functions.generate.quality import assess

HERE = Path(__file__).parent
CORPUS = HERE / "quality_corpus"
KINDS = {"word_salad", "marker_stuffing", "off_topic", "contradictory", "repeated", "wrong_language",
         "known_myth", "placeholder"}


def load() -> tuple[list[dict], list[dict]]:
    """(must_pass, must_fail), each entry with content_type, name, topic, audience, objectives, language, content."""
    must_pass, must_fail = [], []
    for path in sorted(CORPUS.glob("*.json")):
        data = json.loads(path.read_text())
        must_pass += [{**e, "content_type": data["content_type"]} for e in data["must_pass"]]
        must_fail += [{**e, "content_type": data["content_type"]} for e in data["must_fail"]]
    for path in sorted((HERE / "quality_docs").glob("*.json")):
        data = json.loads(path.read_text())
        must_pass.append({"content_type": path.stem, "name": "quality_docs good", "topic": data["topic"],
                          "audience": data["audience"], "learning_objectives": data["learning_objectives"],
                          "language": "en", "content": data["good"]})
    return must_pass, must_fail


MUST_PASS, MUST_FAIL = load()


def _assess(entry: dict):
    return assess(entry["content_type"], entry["content"], topic=entry["topic"], audience=entry["audience"],
                  learning_objectives=entry["learning_objectives"] or None, language=entry["language"])


def test_corpus_size_and_spread():
    assert len(MUST_PASS) >= 40 and len(MUST_FAIL) >= 40
    types = set(content_types.CONTENT_TYPES)
    assert {e["content_type"] for e in MUST_PASS} == types
    for ctype in types:  # every failure kind is represented for every content type
        assert {e["kind"] for e in MUST_FAIL if e["content_type"] == ctype} == KINDS, ctype


@pytest.mark.parametrize("entry", MUST_PASS + MUST_FAIL,
                         ids=lambda e: f"{e['content_type']}-{e['name']}")
def test_every_corpus_document_is_schema_valid(entry):
    # A must-fail document the schema already rejects would test nothing about the gate.
    content_types.validate(entry["content_type"], entry["content"])


@pytest.mark.parametrize("entry", MUST_PASS, ids=lambda e: f"{e['content_type']}-{e['name']}")
def test_sound_document_passes(entry):
    report = _assess(entry)
    assert report.passed, (report.dimensions, report.weaknesses)


@pytest.mark.parametrize("entry", MUST_FAIL, ids=lambda e: f"{e['content_type']}-{e['kind']}-{e['name']}")
def test_unsound_document_fails(entry):
    report = _assess(entry)
    assert not report.passed, (report.dimensions, report.weaknesses)
    assert report.weaknesses, "a failed document must say why"
