"""The gate's sentence vectors (`quality.semantic`) and the pairing check that reads meaning with them.

The model ships inside the `wordllama` wheel: it must load with the network refused, never at import
(cold start), once per process however many threads ask at once, and tell a definition that belongs
to its term from one that belongs to another term when they share no word."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from functions.generate.quality import assess, discourse, semantic
from functions.generate.quality.text import analyse

ROOT = Path(__file__).resolve().parent.parent

# Each definition avoids its own term, so words alone cannot pair them.
CARDS = [
    ("Cell membrane", "A thin flexible layer around every cell that controls what enters and leaves it."),
    ("Nucleus", "The control centre that holds the DNA, the instructions for building proteins."),
    ("Mitochondrion", "Releases energy from food through respiration; muscle cells have many of them."),
    ("Ribosome", "A tiny structure that joins amino acids together to build proteins."),
    ("Cell wall", "A stiff layer outside the membrane of plant cells, made mostly of cellulose."),
    ("Chloroplast", "The green organelle where photosynthesis turns light energy into sugar."),
    ("Vacuole", "A storage sac for water, food and wastes; plants usually have one large central one."),
    ("Lysosome", "A small sac of digestive enzymes that breaks down worn-out parts and food particles."),
    ("Golgi apparatus", "Stacks of flattened sacs that sort, package and ship proteins, like a post office."),
    ("Cytoplasm", "The jelly-like fluid that fills the cell and surrounds the organelles."),
]


def _cards(pairs: list[tuple[str, str]]) -> dict:
    return {"title": "Inside the Cell", "items": [{"term": t, "definition": d, "difficulty": "easy"} for t, d in pairs]}


def _swapped(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    definitions = [d for _, d in pairs]
    return [(t, d) for (t, _), d in zip(pairs, definitions[3:] + definitions[:3])]


def test_vectors_are_unit_length_and_an_empty_text_is_zero():
    vectors = semantic.embed(["The heart pumps blood.", "", "Inflation raises prices."])
    assert vectors.shape == (3, 256)
    norms = (vectors ** 2).sum(axis=1) ** 0.5
    assert norms[0] == pytest.approx(1.0, abs=1e-5) and norms[2] == pytest.approx(1.0, abs=1e-5)
    assert norms[1] == 0.0


def test_a_paraphrase_is_nearer_than_another_subject():
    sim = semantic.similarity(["The human heart has four chambers."],
                              ["The heart is divided into four chambers.", "Inflation raises the price of bread."])
    assert sim[0][0] > 0.6 > 0.2 > sim[0][1]


def test_definitions_under_their_own_terms_pass_and_swapped_ones_fail():
    sound, swapped = _cards(CARDS), _cards(_swapped(CARDS))
    assert discourse.meaning_ratio(sound, "flashcards") > discourse.CARDS_ALONE + 0.15
    assert discourse.meaning_ratio(swapped, "flashcards") < discourse.CARDS_ALONE
    assert discourse.pairing(analyse(sound), "flashcards") == []
    found = discourse.pairing(analyse(swapped), "flashcards")
    assert [d.kind for d in found] == ["mismatched"]
    kwargs = {"topic": "The parts of a cell", "audience": "middle_school"}
    assert assess("flashcards", swapped, **kwargs).passed is False
    assert any("do not belong" in r["finding"] for r in assess("flashcards", swapped, **kwargs).reasons())


def test_rotated_faq_answers_fail_by_meaning_and_words_together():
    faq = {"title": "Saving money", "items": [
        {"question": "What is a budget?", "answer": "A plan that lists what comes in each month and what goes out, "
         "so you decide ahead where the money goes.", "category": "Basics"},
        {"question": "Why keep an emergency fund?", "answer": "Savings set aside for surprises such as a broken "
         "boiler or a lost job, so you do not have to borrow at high interest.", "category": "Basics"},
        {"question": "How does compound interest work?", "answer": "Interest is paid on earlier interest as well "
         "as on what you put in, so growth speeds up the longer you wait.", "category": "Growth"},
        {"question": "What is a credit score?", "answer": "A number lenders use to judge how reliably you repay; "
         "paying bills on time raises it.", "category": "Borrowing"},
        {"question": "Should I pay off my card in full?", "answer": "Yes when you can: a balance left over is "
         "charged interest, often above 20 % a year.", "category": "Borrowing"},
    ]}
    rotated = json.loads(json.dumps(faq))
    answers = [i["answer"] for i in faq["items"]]
    for item, answer in zip(rotated["items"], answers[1:] + answers[:1]):
        item["answer"] = answer
    assert discourse.pairing(analyse(faq), "faq_collection") == []
    assert [d.kind for d in discourse.pairing(analyse(rotated), "faq_collection")] == ["mismatched"]


def test_the_model_loads_once_when_many_threads_ask_at_once(monkeypatch):
    monkeypatch.setattr(semantic, "_model", None)
    loads: list[int] = []
    real = semantic.metadata.distribution

    def counting(name: str):
        loads.append(1)
        return real(name)

    monkeypatch.setattr(semantic.metadata, "distribution", counting)
    results: list[list[list[float]]] = []
    threads = [threading.Thread(target=lambda: results.append(semantic.similarity(["a cell"], ["the nucleus"])))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(results) == 8 and all(r == results[0] for r in results)


def test_the_model_loads_offline_from_the_wheel_and_never_at_import(tmp_path):
    """Fresh interpreter, sockets refused, and a fake `wordllama` module that explodes on import: the
    gate reads the package's files without importing its code (which would try a model hub)."""
    (tmp_path / "wordllama.py").write_text("raise ImportError('the wordllama module must not be imported')\n")
    script = textwrap.dedent(
        """
        import json, socket, sys
        def refuse(*args, **kwargs):
            raise OSError("network access attempted")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        import functions.generate.quality
        before = sorted(m for m in sys.modules if m in ("numpy", "tokenizers", "safetensors"))
        from functions.generate.quality import semantic
        sim = semantic.similarity(["a heart"], ["the heart"])[0][0]
        import os
        print(json.dumps({"before": before, "sim": sim, "blas": os.environ.get("OPENBLAS_NUM_THREADS")}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin", "ENVIRONMENT": "test"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["before"] == [] and out["sim"] > 0.5
    assert out["blas"] == "1"  # numpy first imported here, with one BLAS thread (see semantic._load)
