"""QUALITY_JUDGE: another paid provider reviews claims and teaching value, through its SDK, as a `judge` ledger row."""

from __future__ import annotations

import json

import pytest

from functions.generate.quality import judge
from tests.conftest import auth
from tests.generate.documents import sound
from tests.generate.fake_providers import Reply
from tests.generate.test_generate_providers import _events

CONFIRMED = {"claims": [{"claim": "Recycling aluminium uses a small fraction of the energy of new metal.",
                         "verdict": "supported", "correction": ""}], "mismatched_pairs": [], "order_problems": [],
             "factual_accuracy": 0.96, "teaching_value": 0.9, "problems": []}
REFUTED = {"claims": [{"claim": "Magnets pull out aluminium cans.", "verdict": "false",
                       "correction": "magnets pull out steel cans; aluminium is separated by eddy currents"}],
           "mismatched_pairs": [], "order_problems": [],
           "factual_accuracy": 0.7, "teaching_value": 0.85, "problems": ["the sorting section mixes up metals"]}


def _post(client_for, users, body):
    _, key = users()
    resp = client_for("generate").post("/v1/content", json=body, headers=auth(key))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_auto_judge_is_another_paid_provider_and_verifies_factual(db, users, client_for, use_providers):
    server = use_providers("openai,anthropic", QUALITY_JUDGE="auto")
    body, good = sound("faq_collection")
    server.script("openai", Reply(document=good, input_tokens=1000, output_tokens=2000))
    server.script("anthropic", Reply(document=CONFIRMED, input_tokens=3000, output_tokens=400))
    item = _post(client_for, users, body)
    quality = item["quality"]
    assert item["provider"] == "openai" and quality["passed"] is True
    assert quality["judge"] == "anthropic" and quality["factual_verified"] is True
    assert quality["dimensions"]["factual"] > 0.9  # verified: above the unverified ceiling
    [review] = server.calls("anthropic")
    assert review["json"]["tools"][0]["input_schema"] == judge.REVIEW_SCHEMA  # the strict review schema
    assert good["items"][0]["answer"] in json.dumps(review["json"])  # the document is what is reviewed
    events = sorted(_events(), key=lambda e: e.attempt)
    assert [(e.provider, e.kind, e.outcome) for e in events] == [
        ("openai", "generation", "success"), ("anthropic", "judge", "success")]
    assert all(e.cost_known and e.cost_usd > 0 and e.content_id == item["id"] for e in events)
    assert item["attempts"] == 2


def test_a_false_claim_fails_the_gate_and_the_correction_reaches_the_next_provider(
        db, users, client_for, use_providers):
    server = use_providers("openai,anthropic", QUALITY_JUDGE="auto")
    body, good = sound("faq_collection")
    server.script("openai", Reply(document=good), Reply(document=CONFIRMED))  # writes, then judges anthropic
    server.script("anthropic", Reply(document=REFUTED), Reply(document=good))  # judges openai, then writes
    item = _post(client_for, users, body)
    assert [c["kind"] for c in server.calls()] == ["openai", "anthropic", "anthropic", "openai"]
    assert item["provider"] == "anthropic" and item["quality"]["judge"] == "openai" and item["quality"]["passed"]
    regeneration = json.dumps(server.calls("anthropic")[1]["json"])
    assert "eddy currents" in regeneration and "Magnets pull out aluminium cans" in regeneration
    outcomes = [(e.provider, e.kind, e.outcome) for e in sorted(_events(), key=lambda e: e.attempt)]
    assert outcomes == [("openai", "generation", "low_quality"), ("anthropic", "judge", "success"),
                        ("anthropic", "generation", "success"), ("openai", "judge", "success")]


def test_judge_off_or_down_leaves_factual_unverified(db, users, client_for, use_providers):
    server = use_providers("openai,anthropic", QUALITY_JUDGE="off")
    body, good = sound("faq_collection")
    server.script("openai", Reply(document=good))
    item = _post(client_for, users, body)
    assert server.calls("anthropic") == [] and item["quality"]["factual_verified"] is False
    assert item["quality"]["judge"] is None and item["quality"]["dimensions"]["factual"] <= 0.9

    server.requests.clear()
    use_providers("openai,anthropic", QUALITY_JUDGE="anthropic")
    server.script("openai", Reply(document=good))
    server.script("anthropic", *[Reply(status=503) for _ in range(3)])
    item = _post(client_for, users, body)
    assert item["quality"]["passed"] is True and item["quality"]["factual_verified"] is False
    judged = [(e.kind, e.outcome) for e in _events() if e.provider == "anthropic"]
    assert judged == [("judge", "error")] * 3  # the judge call and its two retries, all kind "judge"


def test_a_review_outside_the_schema_is_recorded_and_ignored(db, users, client_for, use_providers):
    server = use_providers("openai,anthropic", QUALITY_JUDGE="auto")
    body, good = sound("faq_collection")
    server.script("openai", Reply(document=good))
    server.script("anthropic", Reply(document={"factual_accuracy": 2, "verdict": "great"}))
    item = _post(client_for, users, body)
    assert item["quality"]["factual_verified"] is False and item["quality"]["passed"] is True
    [row] = [e for e in _events() if e.provider == "anthropic"]
    assert (row.kind, row.outcome) == ("judge", "invalid_output") and row.cost_known


@pytest.mark.parametrize(("setting", "configured", "order", "generator", "expected"), [
    ("auto", ["openai", "anthropic"], ["openai", "anthropic"], "openai", "anthropic"),
    ("auto", ["openai", "anthropic"], ["anthropic", "openai"], "anthropic", "openai"),
    ("auto", ["openai"], ["openai"], "openai", None),  # no other paid provider: no judge
    ("auto", ["vertex"], ["mock"], "mock", "vertex"),  # configured outside AI_PROVIDERS still counts
    ("off", ["openai", "anthropic"], ["openai"], "openai", None),
    ("vertex", ["openai", "vertex"], ["openai"], "openai", "vertex"),
    ("openai", ["openai"], ["openai"], "openai", None),  # never its own reviewer
    ("anthropic", ["openai"], ["openai"], "openai", None),  # named but without credentials
])
def test_judge_selection(setting, configured, order, generator, expected):
    assert judge.select(setting, configured, order, generator) == (expected and (expected, None))


@pytest.mark.parametrize(("setting", "configured", "generator", "expected"), [
    ("auto", ["openai"], "openai", ("openai", "gpt-4o")),  # no other paid provider: its judge model
    ("auto", ["openai", "anthropic"], "openai", ("anthropic", None)),  # another provider comes first
    ("openai", ["openai"], "openai", ("openai", "gpt-4o")),
    ("auto", [], "mock", None),  # the mock has no judge model
])
def test_judge_selection_with_a_judge_model(setting, configured, generator, expected):
    assert judge.select(setting, configured, [generator], generator, "gpt-4o") == expected


def test_settings_refuse_an_unknown_or_mock_judge(env):
    from shared.settings import get_settings

    for bad in ("mock", "gpt"):
        env(QUALITY_JUDGE=bad)
        with pytest.raises(Exception, match="QUALITY_JUDGE"):
            get_settings()


HEART_REVIEW = {
    "claims": [{"claim": "The human heart has three chambers.", "verdict": "false",
                "correction": "the human heart has four chambers: two atria and two ventricles"},
               {"claim": "The aorta carries blood from the heart to the lungs.", "verdict": "false",
                "correction": "the pulmonary artery carries blood to the lungs; the aorta carries it to the body"}],
    "mismatched_pairs": [], "order_problems": [], "factual_accuracy": 0.3, "teaching_value": 0.6,
    "problems": ["the anatomy is wrong throughout"]}


def _corpus_entry(entry_id: str) -> dict:
    from tests.quality_corpus.labelled import corpus

    return next(e for e in corpus.load() if e["id"] == entry_id)


def test_the_generators_own_provider_judges_with_the_judge_model_and_names_the_wrong_claims(
        db, users, client_for, use_providers):
    """One paid provider only: QUALITY_JUDGE=auto reviews with QUALITY_JUDGE_MODEL. A fluent study guide
    with a three-chambered heart passes every offline check; the reviewer names the wrong claims, so
    the item fails with those claims among its reasons (a judge-confirmed failure is regenerated)."""
    heart = _corpus_entry("fw-sg-heart")
    server = use_providers("openai", QUALITY_JUDGE="auto", QUALITY_JUDGE_MODEL="gpt-4o-judge",
                           ANTHROPIC_API_KEY="", GOOGLE_API_KEY="")  # openai is the only paid provider
    server.script("openai", *[r for _ in range(3) for r in (Reply(document=heart["content"]),
                                                             Reply(document=HEART_REVIEW))])
    body = {"content_type": "study_guide", "topic": heart["topic"], "audience": heart["audience"],
            "learning_objectives": heart["learning_objectives"]}
    item = _post(client_for, users, body)
    quality = item["quality"]
    assert quality["passed"] is False and quality["factual_verified"] is True and quality["judge"] == "openai"
    findings = " ".join(r["finding"] for r in quality["reasons"] if r["dimension"] == "factual")
    assert "three chambers" in findings and "four chambers" in findings
    calls = server.calls("openai")
    assert [c["json"]["model"] for c in calls[:2]] == ["gpt-4o-mini", "gpt-4o-judge"]
    assert len(calls) == 6  # judge-confirmed: regenerated up to 3 generations, each reviewed
    assert "three chambers" in json.dumps(calls[2]["json"])  # the correction reached the regeneration


def test_mismatched_pairs_the_judge_finds_fail_the_item_with_the_pairs_as_reasons(
        db, users, client_for, use_providers):
    cards = _corpus_entry("flashcards:cell biology~mismatched")  # lexically invisible offline
    review = {"claims": [], "mismatched_pairs": ["'Nucleus' is defined as the powerhouse of the cell"],
              "order_problems": [], "factual_accuracy": 0.9, "teaching_value": 0.4, "problems": []}
    server = use_providers("openai,anthropic", QUALITY_JUDGE="auto")
    # Generations alternate (openai, anthropic, openai); each is reviewed by the other provider.
    server.script("openai", Reply(document=cards["content"]), Reply(document=review), Reply(document=cards["content"]))
    server.script("anthropic", Reply(document=review), Reply(document=cards["content"]), Reply(document=review))
    body = {"content_type": "flashcards", "topic": cards["topic"], "audience": cards["audience"],
            "learning_objectives": cards["learning_objectives"]}
    item = _post(client_for, users, body)
    assert item["quality"]["passed"] is False
    assert any("Nucleus" in r["finding"] and r["dimension"] == "educational_value" for r in item["quality"]["reasons"])


def test_a_judge_answering_garbage_never_fails_the_request(db, users, client_for, use_providers):
    server = use_providers("openai,anthropic", QUALITY_JUDGE="auto")
    body, good = sound("faq_collection")
    server.script("openai", Reply(document=good))
    server.script("anthropic", Reply(text="I think this document is great!"))
    item = _post(client_for, users, body)
    assert item["quality"]["passed"] is True and item["quality"]["factual_verified"] is False
    assert item["quality"]["reasons"] == []
