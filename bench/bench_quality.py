"""Quality gate: assess() on a ~2,000-word study guide (goal p95 <= 20 ms).

Baselines measured in the same run on the same document: `json.dumps` (what
storing it costs) and a plain regex word count (the least any text scorer must
do). Three conditions for assess():
- warm: the same document again and again (per-word syllable cache hot);
- varied: a different document each call (new topics, so new words);
- cold words: the per-word syllable and stem caches cleared before every call (the
  dictionary itself stays loaded, as it does for a live process).
The one-off dictionary load (first assessment in a process) is reported apart.
Then the labelled corpus (tests/quality_corpus and the good documents of tests/quality_docs):
precision and recall of the gate at rejecting the must-fail documents, per failure kind, and the
assessment time per corpus document.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

from bench.common import ROOT, latencies, summary

TOPICS = ["Plate tectonics and earthquakes", "The chemistry of cooking", "Ancient Roman engineering",
          "Machine learning for beginners", "Coral reef ecosystems", "The French Revolution",
          "Personal finance and budgeting", "Human memory and sleep"]
OBJECTIVES = ["Explain how the main process works step by step", "Compare two competing explanations",
              "Describe the evidence behind the central claim", "Predict what happens when a condition changes",
              "Evaluate a real-world application", "Calculate a simple quantity from given data",
              "Interpret a diagram or chart", "Design a small investigation"]
WORDS = re.compile(r"[A-Za-z0-9']+")
FULL = {"calls": 300, "cpu_calls": 100}
SMOKE = {"calls": 6, "cpu_calls": 2}


def study_guide(topic: str, target_words: int = 2000) -> dict:
    """A schema-shaped study guide of about `target_words` words (mock text, padded from the
    same topic's reading material so the vocabulary stays on topic)."""
    from functions.generate import mock_content

    guide = mock_content.build("study_guide", topic=topic, audience="college",
                               learning_objectives=OBJECTIVES, language="en")
    reading = mock_content.build("detailed_reading_material", topic=topic, audience="college",
                                 learning_objectives=OBJECTIVES, language="en", attempt=2)
    extra = [s["content"] for s in reading["sections"]] + [reading["introduction"], reading["conclusion"]]
    fields = ["overview", "summary", "detailed_content"]
    i = 0
    while len(WORDS.findall(json.dumps(guide))) < target_words and i < 60:
        guide[fields[i % 3]] += "\n\n" + extra[i % len(extra)]
        i += 1
    return guide


def _cold_first_call_ms() -> float:
    """First assess() in a fresh interpreter: includes reading the CMU dictionary."""
    script = (
        "import time, json\n"
        "from bench.bench_quality import study_guide\n"
        "doc = study_guide('Plate tectonics and earthquakes')\n"
        "from functions.generate.quality import assess\n"
        "t = time.perf_counter()\n"
        "assess('study_guide', doc, topic='Plate tectonics and earthquakes', audience='college')\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def corpus() -> tuple[list[dict], list[dict]]:
    """(must_pass, must_fail) entries of the labelled corpus, each with its content_type."""
    must_pass, must_fail = [], []
    for path in sorted((ROOT / "tests" / "quality_corpus").glob("*.json")):
        data = json.loads(path.read_text())
        must_pass += [{**e, "content_type": data["content_type"]} for e in data["must_pass"]]
        must_fail += [{**e, "content_type": data["content_type"]} for e in data["must_fail"]]
    for path in sorted((ROOT / "tests" / "quality_docs").glob("*.json")):
        data = json.loads(path.read_text())
        must_pass.append({"content_type": path.stem, "name": "quality_docs good", "topic": data["topic"],
                          "audience": data["audience"], "learning_objectives": data["learning_objectives"],
                          "language": "en", "content": data["good"]})
    return must_pass, must_fail


def corpus_report() -> None:
    from functions.generate.quality import assess

    must_pass, must_fail = corpus()
    times: list[float] = []

    def rejected(e: dict) -> bool:
        t = time.perf_counter()
        report = assess(e["content_type"], e["content"], topic=e["topic"], audience=e["audience"],
                        learning_objectives=e["learning_objectives"] or None, language=e["language"])
        times.append((time.perf_counter() - t) * 1000)
        return not report.passed

    false_rejects = [e["name"] for e in must_pass if rejected(e)]
    by_kind: dict[str, list[bool]] = {}
    for e in must_fail:
        by_kind.setdefault(e["kind"], []).append(rejected(e))
    tp = sum(sum(v) for v in by_kind.values())
    fp, fn = len(false_rejects), len(must_fail) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"corpus: {len(must_pass)} must-pass, {len(must_fail)} must-fail documents")
    print(f"rejecting unsound documents: precision {precision:.3f} ({tp}/{tp + fp}), recall {recall:.3f} ({tp}/{tp + fn})")
    print("recall by kind: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())))
    if false_rejects:
        print("sound documents rejected: " + "; ".join(false_rejects))
    times.sort()
    print(f"assessment time per corpus document: p50 {times[len(times) // 2]:.2f} ms, "
          f"p95 {times[int(len(times) * 0.95)]:.2f} ms, max {times[-1]:.2f} ms")


def run(sizes: dict[str, int] = FULL) -> None:
    from functions.generate.quality import assess, syllables, text

    docs = [study_guide(t) for t in TOPICS]
    doc, topic = docs[0], TOPICS[0]
    n_words = len(WORDS.findall(" ".join(str(v) for v in doc.values())))
    print(f"document: study_guide, {n_words} words, {len(json.dumps(doc))} bytes of JSON")

    cold = _cold_first_call_ms()
    report = assess("study_guide", doc, topic=topic, audience="college", learning_objectives=OBJECTIVES)
    print(f"report: overall {report.overall}, passed {report.passed}")

    n = sizes["calls"]
    base_json = summary(latencies(lambda: json.dumps(doc), n))
    base_count = summary(latencies(lambda: len(WORDS.findall(json.dumps(doc))), n))
    warm = summary(latencies(lambda: assess("study_guide", doc, topic=topic, audience="college",
                                            learning_objectives=OBJECTIVES), n))
    state = {"i": 0}

    def varied() -> None:
        k = state["i"] % len(docs)
        state["i"] += 1
        assess("study_guide", docs[k], topic=TOPICS[k], audience="college", learning_objectives=OBJECTIVES)

    var = summary(latencies(varied, n))

    def cold_words() -> None:
        syllables.syllables.cache_clear()
        text.stem.cache_clear()
        assess("study_guide", doc, topic=topic, audience="college", learning_objectives=OBJECTIVES)

    cold_w = summary(latencies(cold_words, max(2, n // 3), warmup=min(3, n)))

    rows = [("json.dumps (baseline)", base_json), ("regex word count (baseline)", base_count),
            ("assess, warm", warm), ("assess, varied documents", var), ("assess, cold word cache", cold_w)]
    print(f"{'measure':32} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, s in rows:
        print(f"{name:32} {s['p50']:8.3f} {s['p95']:8.3f} {s['p99']:8.3f}")
    print(f"first assessment in a new process (loads the CMU dictionary): {cold:.0f} ms")
    print(f"ratio assess (varied) / word count: p50 {var['p50'] / base_count['p50']:.1f}x, "
          f"p95 {var['p95'] / base_count['p95']:.1f}x; / json.dumps p50 {var['p50'] / base_json['p50']:.1f}x")
    t0 = time.process_time()
    for _ in range(sizes["cpu_calls"]):
        varied()
    cpu = (time.process_time() - t0) * 1000 / sizes["cpu_calls"]
    print(f"CPU time per assess (varied, mean of {sizes['cpu_calls']}): {cpu:.2f} ms; "
          f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    worst = max(warm["p95"], var["p95"], cold_w["p95"])
    print(f"goal p95 <= 20 ms: {'met' if worst <= 20 else 'MISSED'} (worst p95 {worst:.2f} ms)")
    corpus_report()


if __name__ == "__main__":
    t0 = time.monotonic()
    run()
    print(f"({time.monotonic() - t0:.1f} s)")
