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
                         "verdict": "supported", "correction": ""}],
             "factual_accuracy": 0.96, "teaching_value": 0.9, "problems": []}
REFUTED = {"claims": [{"claim": "Magnets pull out aluminium cans.", "verdict": "false",
                       "correction": "magnets pull out steel cans; aluminium is separated by eddy currents"}],
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
    assert judge.select(setting, configured, order, generator) == expected


def test_settings_refuse_an_unknown_or_mock_judge(env):
    from shared.settings import get_settings

    for bad in ("mock", "gpt"):
        env(QUALITY_JUDGE=bad)
        with pytest.raises(Exception, match="QUALITY_JUDGE"):
            get_settings()
