"""The labelled quality corpus as one list, its mechanical variants, and its tuning / held-out split.

Sources (all written by hand, none generated from the scorer's rules):
- `tests/quality_corpus/<type>.json`: the first corpus (sound documents and eight older failure kinds);
- `tests/quality_docs/<type>.json`: the good document of each type;
- `labelled/written.json`: documents written for issue 20: sound ones in several languages and
  audiences, refusals and meta text, generic filler, factually wrong text, a neighbouring topic passed
  off as the one asked, the wrong audience;
- `labelled/heldout2.json` to `heldout18.json` (second to eighteenth rounds):
  held-out parts written by hand after a round's tuning, each with its mechanical variants
  (`*_derived.json`).

`labelled/derived.json` is made by `derive()` from the *sound* documents above, mechanically:
- shuffled: the sentences of every prose field put in another order (an outline's sections too);
- mismatched: answers, definitions, key-concept explanations or outline descriptions moved to the
  wrong question / term / section (a derangement);
- truncated: the longest prose field cut off mid-sentence and the last field reduced to a fragment;
- wrong_language: a sound document requested in another language than the one it is written in;
- wrong_audience: a document for young readers requested for college and the reverse;
- off_topic: a sound document requested under another document's topic (same type).
The last three change only the request, never the text.

The split is by source document (a variant goes with its source), from a SHA-256 of the source id:
40 % held out. It was fixed, and `labelled/manifest.json` written, before any tuning for issue 20.
Regenerate with `python -m tests.quality_corpus.labelled.corpus` (deterministic).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CORPUS = HERE.parent
DOCS = CORPUS.parent / "quality_docs"
HELD_OUT_SHARE = 0.4
# The second held-out part (issue 20, second round): written by hand after the first round's tuning,
# before any of the second round's; never used for tuning. Its ids start with "h2-".
HELDOUT2 = HERE / "heldout2.json"
HELDOUT2_DERIVED = HERE / "heldout2_derived.json"
# The third held-out part (issue 20, third round): written by hand by four writers who never read the
# scorer, its tests or its docs, while the third round tuned on everything above; committed before the
# third round's scorer was merged and measured once after it was frozen. Its ids start with "h3-".
HELDOUT3 = HERE / "heldout3.json"
HELDOUT3_DERIVED = HERE / "heldout3_derived.json"
# The fourth held-out part (issue 20, fourth round): written by four other writers under the same rules
# while the fourth round tuned on everything above (heldout3 included); committed (8a60b53) before the
# fourth round's scorer was merged and measured once after it was frozen. Its ids start with "h4-".
HELDOUT4 = HERE / "heldout4.json"
HELDOUT4_DERIVED = HERE / "heldout4_derived.json"
# The fifth held-out part (issue 20, fifth round): written by four more writers under the same rules
# while the fifth round tuned on heldout4; committed (0431477) before the fifth round's scorer was merged
# and measured once after it was frozen. Its ids start with "h5-".
HELDOUT5 = HERE / "heldout5.json"
HELDOUT5_DERIVED = HERE / "heldout5_derived.json"
# The sixth held-out part (issue 20, sixth round): written by four more writers under the same rules
# while the sixth round tuned on heldout5 (the first with sentence vectors); committed before it was
# ever scored and measured once on the sixth round's frozen scorer. Its ids start with "h6-".
HELDOUT6 = HERE / "heldout6.json"
HELDOUT6_DERIVED = HERE / "heldout6_derived.json"
# The seventh held-out part (issue 20, seventh round): written by four more writers under the same rules
# while the seventh round tuned on heldout6; committed before it was ever scored and measured once on the
# seventh round's frozen scorer. Its ids start with "h7-".
HELDOUT7 = HERE / "heldout7.json"
HELDOUT7_DERIVED = HERE / "heldout7_derived.json"
# The eighth held-out part (issue 20, eighth round): written by four more writers under the same rules
# while the eighth round tuned on heldout7; committed before it was ever scored and measured once on the
# eighth round's frozen scorer. Its ids start with "h8-".
HELDOUT8 = HERE / "heldout8.json"
HELDOUT8_DERIVED = HERE / "heldout8_derived.json"
# The ninth held-out part (issue 20, ninth round): written by four more writers under the same rules
# while the ninth round tuned on heldout8; committed before it was ever scored and measured once on the
# ninth round's frozen scorer. Its ids start with "h9-".
HELDOUT9 = HERE / "heldout9.json"
HELDOUT9_DERIVED = HERE / "heldout9_derived.json"
# The tenth held-out part (issue 20, tenth round): written by four more writers under the same rules
# while the tenth round tuned on heldout9; committed before it was ever scored and measured once on the
# tenth round's frozen scorer. Its ids start with "h10-".
HELDOUT10 = HERE / "heldout10.json"
HELDOUT10_DERIVED = HERE / "heldout10_derived.json"
# The eleventh held-out part (issue 20, eleventh round): written by four more writers under the same
# rules while the eleventh round tuned on heldout10; committed before it was ever scored and measured once
# on the eleventh round's frozen scorer. Its ids start with "h11-".
HELDOUT11 = HERE / "heldout11.json"
HELDOUT11_DERIVED = HERE / "heldout11_derived.json"
# The twelfth held-out part (issue 20, twelfth round): written by four more writers under the same rules
# while the twelfth round tuned on heldout11; committed (c031bf9) before that round's scorer and before it
# was ever scored, measured once on the twelfth round's frozen scorer (36ade13). Its ids start with "h12-".
HELDOUT12 = HERE / "heldout12.json"
HELDOUT12_DERIVED = HERE / "heldout12_derived.json"
# The thirteenth held-out part (issue 20, thirteenth round): written by four more writers under the same
# rules while the thirteenth round tuned on heldout12; committed (bdb7fe5) before that round's scorer and
# before it was ever scored, measured once on the thirteenth round's frozen scorer (f45cc59). Its ids
# start with "h13-".
HELDOUT13 = HERE / "heldout13.json"
HELDOUT13_DERIVED = HERE / "heldout13_derived.json"
# The fourteenth held-out part (issue 20, fourteenth round): written by four more writers under the same
# rules while the thirteenth round was measured and the fourteenth tuned on heldout13 (entries whose
# subject repeated one of heldout13's were rewritten on other subjects before it was committed);
# committed (4beb333) before that round's scorer and before it was ever scored, measured once on the
# fourteenth round's frozen scorer (1c8a23b). Its ids start with "h14-".
HELDOUT14 = HERE / "heldout14.json"
HELDOUT14_DERIVED = HERE / "heldout14_derived.json"
# The fifteenth held-out part (issue 20, fifteenth round): written by four more writers under the same
# rules, told to avoid every subject of heldout13 and heldout14, while the fifteenth round tuned on
# heldout14; committed (877a3fe) before that round's scorer and before it was ever scored, measured once
# on the fifteenth round's frozen scorer (3eb56b9). Its ids start with "h15-".
HELDOUT15 = HERE / "heldout15.json"
HELDOUT15_DERIVED = HERE / "heldout15_derived.json"
# The sixteenth held-out part (issue 20, sixteenth round): written by four more writers under the same
# rules, told to avoid every subject of heldout13 to heldout15, while the sixteenth round tuned on
# heldout15; committed (460eef0) before that round's scorer and before it was ever scored, measured once
# on the sixteenth round's frozen scorer (c61d67f). Its ids start with "h16-".
HELDOUT16 = HERE / "heldout16.json"
HELDOUT16_DERIVED = HERE / "heldout16_derived.json"
# The seventeenth held-out part (issue 20, seventeenth round): written by four more writers under the
# same rules, told to avoid every subject of heldout2 to heldout16, while the seventeenth round tuned on
# heldout16; committed (eff88d9) before that round's scorer and before it was ever scored, measured once
# on the seventeenth round's frozen scorer (fe563c6). Its ids start with "h17-".
HELDOUT17 = HERE / "heldout17.json"
HELDOUT17_DERIVED = HERE / "heldout17_derived.json"
# The eighteenth held-out part (issue 20, eighteenth round): written by four more writers under the
# same rules, told to avoid every subject of heldout2 to heldout17, while the eighteenth round tuned on
# heldout17; committed (84ee192) before that round's scorer and before it was ever scored, measured once
# on the eighteenth round's frozen scorer (c22983b). Its ids start with "h18-".
HELDOUT18 = HERE / "heldout18.json"
HELDOUT18_DERIVED = HERE / "heldout18_derived.json"
# Held-out parts written by hand after a round's tuning: id prefix -> (part, hand-written, derived).
HELD_OUT_PARTS = {"h2-": ("heldout2", HELDOUT2, HELDOUT2_DERIVED), "h3-": ("heldout3", HELDOUT3, HELDOUT3_DERIVED),
                  "h4-": ("heldout4", HELDOUT4, HELDOUT4_DERIVED), "h5-": ("heldout5", HELDOUT5, HELDOUT5_DERIVED),
                  "h6-": ("heldout6", HELDOUT6, HELDOUT6_DERIVED), "h7-": ("heldout7", HELDOUT7, HELDOUT7_DERIVED),
                  "h8-": ("heldout8", HELDOUT8, HELDOUT8_DERIVED), "h9-": ("heldout9", HELDOUT9, HELDOUT9_DERIVED),
                  "h10-": ("heldout10", HELDOUT10, HELDOUT10_DERIVED), "h11-": ("heldout11", HELDOUT11, HELDOUT11_DERIVED),
                  "h12-": ("heldout12", HELDOUT12, HELDOUT12_DERIVED), "h13-": ("heldout13", HELDOUT13, HELDOUT13_DERIVED),
                  "h14-": ("heldout14", HELDOUT14, HELDOUT14_DERIVED), "h15-": ("heldout15", HELDOUT15, HELDOUT15_DERIVED),
                  "h16-": ("heldout16", HELDOUT16, HELDOUT16_DERIVED),
                  "h17-": ("heldout17", HELDOUT17, HELDOUT17_DERIVED), "h18-": ("heldout18", HELDOUT18, HELDOUT18_DERIVED)}
# The nine failure kinds of issue 20 (the first corpus's kinds are kept as they are).
ISSUE_KINDS = ("off_topic", "wrong_language", "refusal", "wrong_audience", "truncated", "factually_wrong",
               "generic_filler", "mismatched", "shuffled")

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z¿¡ÁÉÍÓÚÄÖÜ\"'])")


def _hand_written() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.json")):
        data = json.loads(path.read_text())
        ctype = data["content_type"]
        for label, key in (("pass", "must_pass"), ("fail", "must_fail")):
            for e in data[key]:
                entries.append({"id": f"{ctype}:{e['name']}", "content_type": ctype, "label": label,
                                "kind": e.get("kind", "sound"), "topic": e["topic"], "audience": e["audience"],
                                "learning_objectives": e["learning_objectives"], "language": e["language"],
                                "content": e["content"]})
    for path in sorted(DOCS.glob("*.json")):
        data = json.loads(path.read_text())
        entries.append({"id": f"{path.stem}:quality_docs good", "content_type": path.stem, "label": "pass",
                        "kind": "sound", "topic": data["topic"], "audience": data["audience"],
                        "learning_objectives": data["learning_objectives"], "language": "en", "content": data["good"]})
    entries += json.loads((HERE / "written.json").read_text())
    return entries


def _rng(*parts: str) -> random.Random:
    return random.Random(hashlib.sha256("|".join(parts).encode()).hexdigest())


def _derange(items: list[Any], rng: random.Random) -> list[Any]:
    """A permutation that leaves no item in its place (a rotation when the shuffle keeps trying to)."""
    order = list(range(len(items)))
    for _ in range(50):
        rng.shuffle(order)
        if all(i != j for i, j in enumerate(order)):
            return [items[j] for j in order]
    return items[1:] + items[:1]


def _shuffle_text(text: str, rng: random.Random) -> str:
    paragraphs = [p for p in text.split("\n") if p.strip()]
    sentences = [s for p in paragraphs for s in _SENTENCE.split(p.strip())]
    if len(sentences) < 3:
        return text
    return " ".join(_derange(sentences, rng))


_PROSE = ("overview", "introduction", "main_content", "conclusion", "detailed_content", "summary",
          "executive_summary", "content", "description")


def _shuffled(entry: dict[str, Any]) -> dict[str, Any] | None:
    doc = json.loads(json.dumps(entry["content"]))
    rng = _rng("shuffled", entry["id"])
    changed = False
    for key in _PROSE:
        if isinstance(doc.get(key), str):
            new = _shuffle_text(doc[key], rng)
            changed |= new != doc[key]
            doc[key] = new
    if isinstance(doc.get("sections"), list):
        for section in doc["sections"]:
            for key in ("content", "description"):
                if isinstance(section.get(key), str):
                    new = _shuffle_text(section[key], rng)
                    changed |= new != section[key]
                    section[key] = new
        sections = _derange(doc["sections"], rng)
        if entry["content_type"] == "master_content_outline":
            sections = [{**s, "section_number": i} for i, s in enumerate(sections, 1)]
        doc["sections"] = sections
        changed = True
    return doc if changed else None


def _mismatched(entry: dict[str, Any]) -> dict[str, Any] | None:
    doc = json.loads(json.dumps(entry["content"]))
    rng = _rng("mismatched", entry["id"])
    ctype = entry["content_type"]
    if ctype in ("faq_collection", "flashcards"):
        field = "answer" if ctype == "faq_collection" else "definition"
        moved = _derange([item[field] for item in doc["items"]], rng)
        for item, value in zip(doc["items"], moved):
            item[field] = value
    elif ctype == "study_guide":
        pairs = [c.split(":", 1) for c in doc["key_concepts"]]
        if not all(len(p) == 2 for p in pairs):
            return None
        moved = _derange([p[1] for p in pairs], rng)
        doc["key_concepts"] = [f"{p[0]}:{m}" for p, m in zip(pairs, moved)]
    elif ctype == "master_content_outline":
        moved = _derange([(s["description"], s["key_points"]) for s in doc["sections"]], rng)
        for section, (description, points) in zip(doc["sections"], moved):
            section["description"], section["key_points"] = description, points
    else:
        return None
    return doc


def _cut(text: str) -> str:
    """About 55 % of `text`, ending mid-sentence after a word that does not close a sentence."""
    words = text.split()
    if len(words) < 4:
        return words[0] if words else text
    keep = max(3, min(len(words) - 1, int(len(words) * 0.55)))
    while keep > 2 and words[keep - 1][-1:] in ".!?:;,":
        keep -= 1
    return " ".join(words[:keep])


def _truncated(entry: dict[str, Any]) -> dict[str, Any] | None:
    doc = json.loads(json.dumps(entry["content"]))
    ctype = entry["content_type"]
    prose = [(k, doc[k]) for k in _PROSE if isinstance(doc.get(k), str)]
    if ctype == "detailed_reading_material":
        last = doc["sections"][-1]
        last["content"] = _cut(last["content"])
        doc["conclusion"] = _cut(doc["conclusion"])[:40].rsplit(" ", 1)[0]
    elif ctype == "master_content_outline":
        last = doc["sections"][-1]
        last["description"] = _cut(last["description"])
        doc["overview"] = _cut(doc["overview"])
    elif ctype in ("faq_collection",):
        doc["items"][-1]["answer"] = _cut(doc["items"][-1]["answer"])
        doc["items"][-2]["answer"] = _cut(doc["items"][-2]["answer"])
    elif ctype == "flashcards":
        for item in doc["items"][-3:]:
            item["definition"] = _cut(item["definition"])
    elif ctype == "reading_guide_questions":
        return None  # every question must end in "?": a cut question is a schema error, not the gate's job
    else:
        key, longest = max(prose, key=lambda kv: len(kv[1]))
        doc[key] = _cut(longest)
        tail = {"podcast_script": "conclusion", "study_guide": "summary", "one_pager_summary": "main_content"}[ctype]
        if tail != key:
            doc[tail] = _cut(doc[tail])[:40].rsplit(" ", 1)[0]
        for list_key in ("assessment_questions", "key_takeaways"):
            if isinstance(doc.get(list_key), list) and ctype != "study_guide":
                doc[list_key][-1] = _cut(doc[list_key][-1])
    return doc


_OTHER_LANGUAGE = {"en": "es", "es": "en", "de": "en", "fr": "en"}
_OTHER_AUDIENCE = {"elementary": "college", "college": "elementary", "high_school": "elementary"}


def derive(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sound = [e for e in entries if e["label"] == "pass"]
    out: list[dict[str, Any]] = []

    def variant(source: dict[str, Any], kind: str, content: dict[str, Any] | None, **request: Any) -> None:
        if content is None:
            return
        out.append({**source, **request, "id": f"{source['id']}~{kind}", "label": "fail", "kind": kind,
                    "derived_from": source["id"], "content": content})

    for e in sound:
        variant(e, "shuffled", _shuffled(e) if e["content_type"] not in (
            "faq_collection", "flashcards", "reading_guide_questions") else None)
        variant(e, "mismatched", _mismatched(e))
        variant(e, "truncated", _truncated(e))
    for i, e in enumerate(sound):
        if i % 3 == 0:
            variant(e, "wrong_language", json.loads(json.dumps(e["content"])), language=_OTHER_LANGUAGE[e["language"]])
        if e["audience"] in _OTHER_AUDIENCE and e["language"] in ("en", "es", "de") and i % 2 == 0:
            variant(e, "wrong_audience", json.loads(json.dumps(e["content"])), audience=_OTHER_AUDIENCE[e["audience"]])
        same = [o for o in sound if o["content_type"] == e["content_type"] and o["language"] == e["language"]
                and o["id"] != e["id"]]
        if same and i % 3 == 1:
            other = same[_rng("off_topic", e["id"]).randrange(len(same))]
            variant(e, "off_topic", json.loads(json.dumps(e["content"])), topic=other["topic"],
                    learning_objectives=other["learning_objectives"])
    return out


def split_of(entry_id: str) -> str:
    """heldout2 to heldout18 for the hand-written held-out parts; else the first round's rule (its held-out
    part, "heldout1", was seen once after tuning, so later rounds tune on it together with "tune")."""
    source = entry_id.split("~", 1)[0]
    for prefix, (part, _, _) in HELD_OUT_PARTS.items():
        if source.startswith(prefix):
            return part
    digest = hashlib.sha256(source.encode()).digest()
    return "heldout1" if int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_SHARE else "tune"


def load() -> list[dict[str, Any]]:
    """Every labelled entry (hand-written and derived), each with its `split` from the manifest."""
    entries = _hand_written() + json.loads((HERE / "derived.json").read_text())
    for _, written, derived in HELD_OUT_PARTS.values():
        entries += json.loads(written.read_text()) + json.loads(derived.read_text())
    manifest = json.loads((HERE / "manifest.json").read_text())["split"]
    return [{**e, "split": manifest[e["id"]]} for e in entries]


def main() -> None:
    entries = _hand_written()
    derived = derive(entries)
    (HERE / "derived.json").write_text(json.dumps(derived, ensure_ascii=False, indent=1) + "\n")
    ids = [e["id"] for e in entries + derived]
    for _, written, derived_path in HELD_OUT_PARTS.values():
        part = json.loads(written.read_text())
        part_derived = derive(part)
        derived_path.write_text(json.dumps(part_derived, ensure_ascii=False, indent=1) + "\n")
        ids += [e["id"] for e in part + part_derived]
    assert len(ids) == len(set(ids)), "duplicate corpus ids"
    manifest = {"held_out_share": HELD_OUT_SHARE,
                "rule": "source id starting 'h18-' -> heldout18 (labelled/heldout18.json, the eighteenth held-out part); "
                        "'h17-' -> heldout17 (the seventeenth, seen since the eighteenth round); "
                        "'h16-' -> heldout16 (the sixteenth, seen since the seventeenth round); "
                        "'h15-' -> heldout15 (the fifteenth, seen since the sixteenth round); "
                        "'h14-' -> heldout14 (the fourteenth, seen since the fifteenth round); "
                        "'h13-' -> heldout13 (the thirteenth, seen since the fourteenth round); "
                        "'h12-' -> heldout12 (the twelfth, seen since the thirteenth round); "
                        "'h11-' -> heldout11 (the eleventh, seen since the twelfth round); "
                        "'h10-' -> heldout10 (the tenth, seen since the eleventh round); "
                        "'h9-' -> heldout9 (the ninth, seen since the tenth round); "
                        "'h8-' -> heldout8 (the eighth, seen since the ninth round); "
                        "'h7-' -> heldout7 (the seventh, seen since the eighth round); "
                        "'h6-' -> heldout6 (the sixth, seen since the seventh round); "
                        "'h5-' -> heldout5 (the fifth, seen since the sixth round); "
                        "'h4-' -> heldout4 (the fourth, seen since the fifth round); "
                        "'h3-' -> heldout3 (the third, seen since the fourth round); "
                        "'h2-' -> heldout2 (labelled/heldout2.json, the second, tuning data since the third round); "
                        "else sha256(source id)[:4] / 2**32 < share -> heldout1 (the first round's held-out "
                        "part, tuning data since the second round), else tune; a variant goes with its source",
                "split": {i: split_of(i) for i in sorted(ids)}}
    (HERE / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()


def evaluate(entries: list[dict[str, Any]], rejected: dict[str, bool]) -> dict[str, Any]:
    """Precision, recall and false-reject rate of rejecting unsound documents, overall and per kind.

    `rejected` maps entry id -> whether the gate rejected it."""
    sound = [e for e in entries if e["label"] == "pass"]
    unsound = [e for e in entries if e["label"] == "fail"]
    false_rejects = [e["id"] for e in sound if rejected[e["id"]]]
    caught = [e for e in unsound if rejected[e["id"]]]
    tp, fp = len(caught), len(false_rejects)
    kinds: dict[str, dict[str, Any]] = {}
    for kind in sorted({e["kind"] for e in unsound}):
        of_kind = [e for e in unsound if e["kind"] == kind]
        hit = sum(1 for e in of_kind if rejected[e["id"]])
        kinds[kind] = {"caught": hit, "of": len(of_kind), "recall": hit / len(of_kind)}
    return {
        "sound": len(sound), "unsound": len(unsound),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / len(unsound) if unsound else 1.0,
        "false_reject_rate": fp / len(sound) if sound else 0.0,
        "false_rejects": false_rejects,
        "missed": [e["id"] for e in unsound if not rejected[e["id"]]],
        "kinds": kinds,
    }


def folds(entries: list[dict[str, Any]], k: int = 5) -> list[list[dict[str, Any]]]:
    """k folds by source document (a variant stays with its source), from the same hash as the split."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(k)]
    for e in entries:
        source = e["id"].split("~", 1)[0]
        out[int.from_bytes(hashlib.sha256(source.encode()).digest()[4:8], "big") % k].append(e)
    return out
