"""What lexical averages cannot see: refusals, truncation, mismatched pairs, shuffled order, filler.

Each check reads the document's structure as well as its words, and answers with `Defect`s: a
kind (`assess.DEFECT_DIMENSIONS` names the dimensions each kind lowers), a plain-language finding
(shown to API clients as a reason and fed into the regeneration prompt) and a factor for those
dimensions. Techniques, chosen because they generalise
beyond the corpus they were tuned on and cost well under a millisecond per 2,000 words:

- refusal and meta text: the speech acts of declining ("I can't help with..."), apologising and
  talking to the requester instead of the learner ("let me know if...", "here is a draft..."),
  as patterns in en/es/de/fr/it/pt — a refusal is a fixed set of constructions, not a topic;
- truncation: a prose field that stops without closing punctuation (closing quotes and brackets of
  every language count; a last line that is a list item needs none), or any text ending on a word
  that cannot end a phrase (an article, a preposition, a conjunction): "...releases energy through"
  (an English stranded preposition, "which to get more of", is complete);
- pairing: each answer (definition, explanation, section body) must share more weighted
  vocabulary with its own question (term, title) than with the others; a derangement of the pairs
  makes most items match another item better than their own;
- order: local lexical cohesion (Barzilay & Lapata's entity-grid insight: consecutive sentences
  share more entities than distant ones), plus sentences that open or close a discourse (welcome,
  in conclusion...: strong; first, finally...: weak) found away from the start or end of their
  passage, read by genre (a podcast's cold open, its speaker notes, a conclusion opening "So,");
- specificity: the share of a text's content words that would fit any topic ("an important
  concept that many people study"), and reading questions with no word of their own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from itertools import chain, repeat
from operator import mul, truediv
from functools import lru_cache
from typing import Any

from functions.generate.quality import redundancy, semantic
from functions.generate.quality.language import FUNCTION_WORDS, detect
from functions.generate.quality.readability import SCREENED_LANGUAGES, grade_for
from functions.generate.quality.syllables import syllables_in
from functions.generate.quality.text import (
    ELISION,
    STOPWORDS,
    Document,
    as_text,
    split_sentences,
    stem,
    words,
)


@dataclass(frozen=True)
class Defect:
    kind: str  # refusal, truncated, mismatched, order, generic...: assess.DEFECT_DIMENSIONS says what it lowers
    finding: str
    factor: float  # multiplies each dimension the kind lowers


def _excerpt(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _list_field(content: dict[str, Any], key: str) -> list[Any]:
    """content[key] when it is a list, else no items."""
    value = content.get(key)
    return value if isinstance(value, list) else []


# --- refusal and meta text ---------------------------------------------------------------------

_REFUSAL = re.compile(
    r"\b(?:i(?:'m| am)? ?(?:can(?:no|['\u2019])t|cannot|won['\u2019]t|will not|(?:am |'m )?(?:unable|not able) to)"
    r"\s+(?:\w+\s+){0,2}?(?:help|assist|provide|create|write|generate|complete|answer|give|produce|comply|make)"
    r"|as an? (?:ai|language model|large language model|ai (?:language )?model)\b"
    r"|i (?:must|have to) (?:decline|refuse)"
    r"|(?:i'm|i am) (?:sorry|afraid),? (?:but )?i"
    r"|unfortunately,? i(?:'m| am| can| cannot| could)"
    r"|i apologi[sz]e"
    r"|lo siento,? (?:pero )?no|no puedo (?:ayudar|crear|escribir|generar|proporcionar|completar|ofrecer)"
    r"|como (?:modelo de lenguaje|ia\b|inteligencia artificial)"
    r"|es tut mir leid|leider kann ich|als (?:ki|ki-modell|sprachmodell)\b|kann ich (?:ihnen )?nicht helfen"
    r"|je suis d[ée]sol[ée]e?|je ne (?:peux|suis pas en mesure)|en tant qu['\u2019](?:ia|intelligence artificielle|mod[èe]le)"
    r"|mi dispiace|non posso (?:aiutar|fornir|crear|scriver)|desculpe|n[ãa]o posso (?:ajudar|criar|fornecer)"
    # Declining politely without an apology: not in a position to, would rather not, another topic instead.
    r"|i(?:'d| would) rather not (?:write|create|take|produce|cover)|i(?:'m| am) not (?:comfortable|in a position)"
    r"|i don['\u2019]t feel comfortable|i can help (?:you )?with (?:another|a different|other) (?:topic|subject)"
    r"|no puedo (?:elaborar|redactar|hacer|preparar|desarrollar|dar)|no me siento (?:en condiciones|c[óo]modo)"
    r"|no (?:me )?es posible (?:ofrecer|elaborar|crear|escribir|redactar|preparar|hacer)"
    r"|prefiero no (?:tomar|escribir|redactar|elaborar|tratar)|puedo ayudarte con otro"
    r"|ich (?:m[öo]chte|w[üu]rde) (?:lieber )?nicht (?:schreiben|erstellen|verfassen|stellung)"
    r"|ich bin nicht in der lage|ich f[üu]hle mich nicht|kann ich gerne ein anderes thema"
    r"|je pr[ée]f[èe]re(?:rais)? ne pas|je ne me sens pas|je peux vous aider avec un autre"
    r"|preferisco non|non sono in grado|prefiro n[ãa]o|n[ãa]o me sinto)",
    re.IGNORECASE,
)
_META = re.compile(
    r"\b(?:(?:here is|here's|here are|below is|below are) (?:a|an|the|your|some)\b[^.!?]{0,60}?"
    r"\b(?:script|outline|summary|faq|flashcards?|guide|questions|reading|document|draft|version|list)"
    r"|i hope this helps|let me know (?:if|what|whether|and)|would you like me to|shall i\b"
    r"|feel free to (?:adjust|change|modify|replace|edit|expand|adapt)"
    r"|(?:could|can) you (?:tell|share|provide|clarify|give) me|please (?:provide|clarify|let me know|tell me)"
    r"|i (?:have|'ve) (?:written|created|kept|included|generated|made) (?:it|this|these|the)"
    r"|placeholders?\b|this draft|if you (?:tell|give|share with) me|i (?:will|'ll) (?:try|revise|rewrite) "
    r"|(?:before|once) i (?:create|write|generate)|awaiting (?:your|details)|to be confirmed"
    r"|consult (?:a|your) (?:qualified|doctor|teacher|textbook|professional)|por favor,? (?:consulta|proporciona|indica)"
    r"|quedo a la espera|disculpa las molestias|bitte versuchen sie es|konnte nicht erstellt werden"
    r"|n'h[ée]sitez pas [àa] me"
    # The same speech acts in German, French and Spanish (seventh round: a German reading that only said
    # "Gerne! Hier ist ein Entwurf …", "Lassen Sie mich wissen …" passed once references stopped failing it).
    r"|hier (?:ist|sind) (?:ein|eine|der|die|das|ihr|ihre)\b[^.!?]{0,40}?\b(?:entwurf|text|lesetext|skript|gliederung|"
    r"zusammenfassung|karteikarten|fragen|version)|lassen sie mich wissen|lass mich wissen|sagen sie bescheid"
    r"|wenn sie (?:m[öo]chten|wollen),? (?:kann|k[öo]nnte) ich|ich hoffe,? (?:dieser|diese|dieses|das|der)\b[^.!?]{0,30}"
    r"\bhilft|voici (?:un|une|le|la|votre|vos)\b[^.!?]{0,40}?\b(?:brouillon|texte|script|plan|r[ée]sum[ée]|fiches?|"
    r"questions|version)|si vous (?:le )?(?:souhaitez|voulez),? je (?:peux|pourrais)|j'esp[èe]re que (?:ce|cette|cela)\b"
    r"|aqu[íi] (?:tienes|tiene|est[áa]|va) (?:un|una|el|la|tu|su)\b[^.!?]{0,40}?\b(?:borrador|texto|gui[óo]n|esquema|"
    r"resumen|tarjetas|preguntas|versi[óo]n)|si (?:quieres|lo deseas|desea),? puedo|espero que (?:esto|este|esta) te)",
    re.IGNORECASE,
)


_REFUSAL_LOWER = re.compile(_REFUSAL.pattern)
_META_LOWER = re.compile(_META.pattern)


# Single quotation marks too (fourteenth round: "Compare: 'If I was rude yesterday, I apologize.'"), when
# they open after a space or a bracket and close before one; an apostrophe inside ends the match, so a
# quotation with a contraction is still read (the safe side: a refusal is never excused by it).
_QUOTED_PHRASE = re.compile(r"\"[^\"\n]{2,200}\"|\u201c[^\u201d\n]{2,200}\u201d|\u00ab[^\u00bb\n]{2,200}\u00bb"
                            r"|\u201e[^\u201c\n]{2,200}\u201c|(?:^|(?<=[\s(\[:\u2013\u2014-]))'[^'\n]{2,200}'(?=[\s).,;:!?]|$)")


def refusal(doc: Document) -> list[Defect]:
    parts = [p for p in doc.passages] + [as_text(doc.content.get("title", ""))]
    # One case-sensitive pass over the lowercased text for the usual, clean document (2.5x faster).
    whole = doc.lower + "\n" + parts[-1].lower()
    if not (_REFUSAL_LOWER.search(whole) or _META_LOWER.search(whole)):
        return []
    # A phrase in quotation marks is shown, not said: an email lesson's "I apologize for the mistake."
    parts = [_QUOTED_PHRASE.sub(" ", p) for p in parts]
    refusals = [(p, m) for p in parts if (m := _REFUSAL.search(p))]
    meta = [(p, m) for p in parts if (m := _META.search(p))]
    if refusals or len(meta) >= 2:
        example, match = (refusals or meta)[0]
        what = "declines or apologises instead of teaching" if refusals else "talks to the requester about the document instead of teaching"
        return [Defect("refusal",
                       f"the text {what} ({len(refusals) + len(meta)} places, e.g. \"{_excerpt(example[max(0, match.start() - 10):])}\")",
                       0.2)]
    return []


# --- truncation ---------------------------------------------------------------------------------

# Words that cannot end a complete phrase: articles, prepositions, conjunctions, auxiliaries.
# Per language since the tenth round: Spanish "son" (they are) ends a conjugation, French "son" (his)
# cannot end a phrase. A language the gate has no list for is read with all of them.
_DANGLING_IN = {
    "en": frozenset("""a an the of to in on at by for with from into through and or but nor that which whose
    than as if because while when where its their our your his her my this these those very more most such
    between about without within during""".split()),
    "es": frozenset("""a el la los las un una unos unas de del al en con por para y o que como su sus muy pero
    cuando porque""".split()),
    "de": frozenset("""der die das den dem des ein eine einen einem einer und oder aber mit von zu im am vom zum
    zur für auf aus bei nach dass weil wenn als wie sehr""".split()),
    "fr": frozenset("""le la les un une du de des et ou mais avec pour dans sur par que qui dont sa son ses leur
    leurs très plus à au aux en""".split()),
}
_DANGLING = frozenset().union(*_DANGLING_IN.values())
# A formula ends a text without a full stop ("Absorption : A + A·B = A"): its last letter is a variable.
_FORMULA_END = re.compile(r"=(?:[\s()+\-*/^\u00b7\u00d7\u00f7,]|\b\w{1,3}\b)*$")
# Closing punctuation, with every closing quotation mark and bracket: English ” ’, German “ ‘ (after „ ‚),
# French » and German «, ›, ‹.
_CLOSED = re.compile(r"[.!?\u2026:;)\]}\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u2039\u203a]\s*$")
# A list item on its own line ("...:\n• anrufen – to call", "\n3) Wasser") needs no full stop.
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[\u2022\u00b7\u25aa\u25e6*\-\u2013\u2014]|\d{1,2}[.)])[ \t]+[^\n]{1,120}$")
# English strands a preposition at the end of a relative or infinitive clause whose wh-word is its
# object ("which to get more of", "what it is made of"); not after "in which", where the wh-word has
# its preposition already ("in which no player can do better by" is cut).
_STRANDING = re.compile(r"(?:^|(?:^|[\s,;])(?!(?:in|of|to|by|for|with|from|on|at|about|into|through)\s)\w+\s+)"
                        r"(?:which|what|whom|who)\b[^,;:.!?]*\s(?:of|to|in|on|at|for|with|from|about|into|by)$",
                        re.IGNORECASE)
# A relative clause without its "which" strands its preposition too ("Goal: the thing you are saving
# for", "something we can count on"; fourteenth round): a noun, a subject pronoun, a few words, the
# preposition.
_REDUCED_RELATIVE = re.compile(r"\b(?:the|a|an|this|that|something|anything|everything|someone|somebody|one)\s+"
                               r"(?:[a-z]+\s+){0,2}(?:you|we|they|he|she|i|people)\s+(?:[a-z']+\s+){0,4}"
                               r"(?:of|to|in|on|at|for|with|from|about|into|by)$", re.IGNORECASE)
# Fields read as running prose that must end like a sentence.
_PROSE_FIELDS = ("overview", "introduction", "main_content", "conclusion", "detailed_content", "summary",
                 "executive_summary", "speaker_notes")
_ITEM_FIELDS = {"sections": ("content", "description"), "items": ("answer", "definition")}
_LIST_FIELDS = ("key_takeaways", "key_concepts", "practice_exercises", "assessment_questions", "learning_objectives")


# An article used as a pronoun after "each" ("lo que hace cada una", "chacun", "jede(r) eine") ends a phrase.
_PRONOUN_END = re.compile(r"\b(?:cada|ninguna|ninguno|alguna|alguno)\s+(?:una|uno)\W*$", re.IGNORECASE)
# An infinitive left implied ends an English phrase ("more than it is used to", "if you want to", "as
# often as you need to"; twelfth round), and so does a quantity left open ("usually 30 years or more",
# "a list of three or more", "once more"; thirteenth round), and so does "more" as the object of a
# pronoun's verb ("when it goes down, they buy more", "to learn more"; seventeenth round), not after
# a form of "be" ("it is more ...").
_ELLIPTICAL_END = re.compile(r"\b(?:(?:used|want|wants|wanted|need|needs|needed|have|has|had|ought|going|able|supposed|"
                             r"meant|like|likes|love|loves|try|tries|tried|hope|hopes|plan|plans|decide|decides)\s+to|"
                             r"(?:or|and|no|any|once|much|many|far|even|at)\s+(?:more|most)|"
                             r"(?:i|you|we|they|he|she|it|people|to)\s+(?!(?:is|are|was|were|be|been|being|am|get|gets|"
                             r"become|becomes|seem|seems)\b)[a-z]+\s+more)\W*$", re.IGNORECASE)
# A closing line of short items set apart by dashes or dots is a word list, not a sentence ("Wichtige
# Wörter:\nder Gleichstrom – der Wechselstrom – der Ertrag – einspeisen"; thirteenth round).
_LIST_SEPARATOR = re.compile(r"\s[\u2013\u2014\u00b7|]\s")
MAX_LIST_ITEM_WORDS = 4


def _word_list_line(text: str) -> bool:
    """Whether the last line of `text`, below other lines, is 3+ short items between dashes or dots."""
    if "\n" not in text:
        return False
    items = _LIST_SEPARATOR.split(text.rsplit("\n", 1)[1])
    return len(items) >= 3 and all(0 < len(words(item)) <= MAX_LIST_ITEM_WORDS for item in items)


# A text that ends in a code block (its last line indented like code) needs no full stop.
_CODE_LAST_LINE = re.compile(r"\n(?: {4}|\t)[^\n]*\S[^\n]*$")


def _texts_to_check(content: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(label, text, must close like a sentence) for every text field that can be cut off."""
    out: list[tuple[str, str, bool]] = []
    for key in _PROSE_FIELDS:
        if isinstance(content.get(key), str):
            out.append((key.replace("_", " "), content[key], True))
    for key, fields in _ITEM_FIELDS.items():
        items = content.get(key)
        if isinstance(items, list):
            for n, item in enumerate(items, 1):
                if isinstance(item, dict):
                    for f in fields:
                        if isinstance(item.get(f), str):
                            out.append((f"{key[:-1]} {n} {f}", item[f], f in ("content", "answer")))
    for key in _LIST_FIELDS:
        if isinstance(content.get(key), list):
            for n, item in enumerate(content[key], 1):
                if isinstance(item, str):
                    out.append((f"{key.replace('_', ' ')[:-1]} {n}", item, False))
    return out


def _cut_items(content: dict[str, Any]) -> list[tuple[str, str]]:
    """Items of a list that stop without the closing punctuation their siblings all have: a list of
    definitions or answers that end in full stops, where the last ones end "...faire quelque" or
    "...Exemple", was cut off (a list written without full stops is a style, not a cut)."""
    cut: list[tuple[str, str]] = []
    for key, fields in _ITEM_FIELDS.items():
        items = content.get(key)
        if not isinstance(items, list):
            continue
        for f in fields:
            texts = [(n, item[f].strip()) for n, item in enumerate(items, 1)
                     if isinstance(item, dict) and isinstance(item.get(f), str) and item[f].strip()]
            if len(texts) < 5:
                continue
            open_ = [(n, t) for n, t in texts if not _CLOSED.search(t) and not _LIST_ITEM.search(t)]
            # One open item alone counts when it stops on an ordinary word ("...faire quelque"), not on
            # a figure, a unit or a link ("about 9.8 m/s²", "nhs.uk").
            single = len(open_) == 1 and len(words(open_[0][1])) >= 6 and re.search(r"\s[^\W\d_]+$", open_[0][1])
            if open_ and len(open_) <= 0.25 * len(texts) and (len(open_) >= 2 or single):
                cut += [(f"{key[:-1]} {n} {f}", t) for n, t in open_]
    return cut


def truncation(doc: Document) -> list[Defect]:
    cut: list[tuple[str, str]] = []
    for label, text, sentence in _texts_to_check(doc.content):
        stripped = text.strip()
        toks = doc.words_of(stripped)
        if not toks:
            continue
        last = toks[-1].lower()
        unclosed = not _CLOSED.search(stripped) and not _CODE_LAST_LINE.search(stripped)
        dangling = (last in _DANGLING_IN.get(doc.language, _DANGLING) and not _STRANDING.search(stripped)
                    and not (doc.language == "en" and _REDUCED_RELATIVE.search(stripped))
                    and not _PRONOUN_END.search(stripped) and not _FORMULA_END.search(stripped)
                    and not (doc.language == "en" and _ELLIPTICAL_END.search(stripped)))
        if unclosed and (dangling or (sentence and len(toks) >= 12 and not _LIST_ITEM.search(stripped)
                                      and not _word_list_line(stripped))):
            cut.append((label, stripped))
    cut += _cut_items(doc.content)
    if not cut:
        return []
    label, text = cut[0]
    more = f" and {len(cut) - 1} more place{'s' if len(cut) > 2 else ''}" if len(cut) > 1 else ""
    return [Defect("truncated",
                   f"the text stops mid-sentence: the {label} ends \"\u2026{_excerpt(text[-50:], 50)}\"{more}", 0.5)]


# --- pairing -------------------------------------------------------------------------------------


def _pairs(content: dict[str, Any], content_type: str) -> tuple[str, list[tuple[str, str]]]:
    """(what the pairs are, [(prompt, response)]) for the types built from pairs."""
    items = _list_field(content, "items")
    if content_type == "faq_collection":
        return "answers", [(as_text(i.get("question")), as_text(i.get("answer"))) for i in items if isinstance(i, dict)]
    if content_type == "flashcards":
        return "definitions", [(as_text(i.get("term")), as_text(i.get("definition"))) for i in items if isinstance(i, dict)]
    if content_type == "study_guide" and isinstance(content.get("key_concepts"), list):
        pairs = [c.split(":", 1) for c in content["key_concepts"] if isinstance(c, str) and ":" in c]
        return "key-concept explanations", [(t, e) for t, e in pairs]
    if content_type == "master_content_outline" and isinstance(content.get("sections"), list):
        return "section descriptions", [(as_text(s.get("title")), as_text(s.get("description")) + " " + as_text(s.get("key_points")))
                                        for s in content["sections"] if isinstance(s, dict)]
    return "", []


@lru_cache(maxsize=4096)
def _stems(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words(text) if w.lower() not in STOPWORDS and len(w) > 2 and not w.isdigit())


def _match(a: str, b: str) -> bool:
    if a == b:
        return True
    n = min(len(a), len(b))
    return n >= 4 and a[:max(4, n - 2)] == b[:max(4, n - 2)]


# A text as the pieces it is read as joined by spaces: a study guide's key concept is its term and
# the guide's sentences that use it. Words never span a space, so the pieces' words in order are the
# joined text's words, and each piece is read once per document instead of once per joined text.
Side = tuple[str, ...]


class _Pieces:
    """Stems and 4-grams of sides, exactly as `_stems` and `_grams` of the joined text (the same
    elements inserted in the same order, so sets iterate and sums add alike), each piece read once."""

    def __init__(self) -> None:
        self._stem_seqs: dict[str, list[str]] = {}
        self._gram_seqs: dict[str, list[str]] = {}

    def stems(self, side: Side) -> frozenset[str]:
        if len(side) == 1:
            return _stems(side[0])
        return frozenset(chain.from_iterable(map(self._stem_seq, side)))

    def grams(self, side: Side) -> Counter[str]:
        if len(side) == 1:
            return _grams(side[0])
        return Counter(chain.from_iterable(map(self._gram_seq, side)))

    def _stem_seq(self, piece: str) -> list[str]:
        found = self._stem_seqs.get(piece)
        if found is None:
            found = self._stem_seqs[piece] = [stem(w) for w in words(piece)
                                              if w.lower() not in STOPWORDS and len(w) > 2 and not w.isdigit()]
        return found

    def _gram_seq(self, piece: str) -> list[str]:
        found = self._gram_seqs.get(piece)
        if found is None:
            found = self._gram_seqs[piece] = list(chain.from_iterable(map(_word_grams, words(piece.lower()))))
        return found


def pairing_matrix(pairs: list[tuple[Side, Side]], pieces: _Pieces) -> list[list[float]]:
    """sim[i][j]: idf-weighted share of prompt i's stems found in response j."""
    prompts = [pieces.stems(p) for p, _ in pairs]
    responses = [pieces.stems(r) for _, r in pairs]
    n = len(pairs)
    # _match needs the first four letters in common (or equality): index the responses' stems by them.
    by_head: dict[str, list[tuple[str, int]]] = {}
    for j, r in enumerate(responses):
        for t in r:
            by_head.setdefault(t[:4], []).append((t, j))
    hits: dict[str, set[int]] = {}  # prompt stem -> the responses that use it
    for p in prompts:
        for s in p:
            if s not in hits:
                hits[s] = {j for t, j in by_head.get(s[:4], ()) if _match(s, t)}
    sim = [[0.0] * n for _ in range(n)]
    for i, p in enumerate(prompts):
        weights = {s: math.log((n + 1) / (len(hits[s]) + 0.5)) for s in p}
        total = sum(weights.values()) or 1.0
        shared: list[list[float]] = [[] for _ in range(n)]  # response j -> the weights it shares, in order
        for s, w in weights.items():
            for j in hits[s]:
                shared[j].append(w)
        for j in range(n):
            sim[i][j] = sum(shared[j]) / total
    return sim


def assignment(sim: list[list[float]]) -> list[int]:
    """The column given to each row by the best one-to-one assignment of rows to columns (the Hungarian
    algorithm, O(n^3); n is at most 25 pairs here). scipy's linear_sum_assignment gives the same totals
    (a test checks it) but costs ~56 MB and 0.3-0.45 s of import in the generate instance."""
    n = len(sim)
    if n == 0:
        return []
    top = max(max(row) for row in sim)
    cost = [[top - v for v in row] for row in sim]  # maximise similarity = minimise cost
    inf = float("inf")
    u, v = [0.0] * (n + 1), [0.0] * (n + 1)
    owner, way = [0] * (n + 1), [0] * (n + 1)  # owner[j]: the row assigned to column j (1-based)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        slack, used = [inf] * (n + 1), [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = owner[j0], inf, 0
            row = cost[i0 - 1]
            for j in range(1, n + 1):
                if not used[j]:
                    c = row[j - 1] - u[i0] - v[j]
                    if c < slack[j]:
                        slack[j], way[j] = c, j0
                    if slack[j] < delta:
                        delta, j1 = slack[j], j
            for j in range(n + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    slack[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    columns = [0] * n
    for j in range(1, n + 1):
        columns[owner[j] - 1] = j - 1
    return columns


@lru_cache(maxsize=8192)
def _word_grams(word: str) -> tuple[str, ...]:
    """The 4-grams of a lowercase content word; none for a short word or a stopword."""
    if len(word) < 3 or word in STOPWORDS:
        return ()
    padded = f" {word} "
    return tuple(padded[k:k + 4] for k in range(len(padded) - 3))


def _grams(text: str) -> Counter[str]:
    """Character 4-grams of the content words: 'photosynthesis' meets 'photosynthetic', 'Mitose' 'mitotic'."""
    return Counter(chain.from_iterable(map(_word_grams, words(text.lower()))))


class _LogTf(dict[int, float]):
    """1 + log(count), computed once per count: looked up in C by `map` for every 4-gram."""

    def __missing__(self, count: int) -> float:
        self[count] = value = 1 + math.log(count)
        return value


_TF = _LogTf()


def _weights(counts: Counter[str], idf: dict[str, float]) -> tuple[list[float], float]:
    """The tf-idf weight of each gram of `counts` (in its order) and the vector's norm."""
    vec = list(map(mul, map(_TF.__getitem__, counts.values()), map(idf.__getitem__, counts)))
    return vec, math.sqrt(sum(map(mul, vec, vec))) or 1.0


def _gram_matrix(pairs: list[tuple[Side, Side]], pieces: _Pieces) -> list[list[float]]:
    """Cosine of tf-idf weighted character 4-gram vectors, prompt i against response j.

    Written for speed (a study guide's prompts carry thousands of 4-grams): the per-gram work runs
    in `map` and `Counter`, and a prompt's gram that no response has is skipped after the norm."""
    prompts = [pieces.grams(p) for p, _ in pairs]
    responses = [pieces.grams(r) for _, r in pairs]
    df: Counter[str] = Counter()
    for g in prompts + responses:
        df.update(g.keys())
    total = len(prompts) + len(responses)
    idf = {k: math.log((total + 1) / (d + 0.5)) for k, d in df.items()}
    postings: dict[str, list[tuple[int, float]]] = {}  # gram -> the responses that have it, with weight
    for j, r in enumerate(responses):
        vec, norm = _weights(r, idf)
        for k, x in zip(r, map(truediv, vec, repeat(norm))):
            postings.setdefault(k, []).append((j, x))
    sim = [[0.0] * len(responses) for _ in prompts]
    for i, p in enumerate(prompts):
        row = sim[i]
        vec, norm = _weights(p, idf)
        weight = dict(zip(p, vec))
        for k in filter(postings.__contains__, p):
            x = weight[k] / norm
            for j, y in postings[k]:
                row[j] += x * y
    return sim


def _with_context(content: dict[str, Any], pairs: list[tuple[str, str]]) -> list[tuple[Side, Side]]:
    """A study guide's key concept read with the sentences of its detailed content that use the term:
    an explanation that avoids its own term still shares words with how the guide uses it."""
    body = as_text(content.get("detailed_content")) + " " + as_text(content.get("summary"))
    sentences = [(s, _stems(s)) for s in split_sentences(body)]
    out: list[tuple[Side, Side]] = []
    for term, explanation in pairs:
        own = _stems(term)
        context = [s for s, stems in sentences if own & stems]
        out.append(((term, *context), (explanation,)))
    return out


def pairing_stats(doc: Document, content_type: str) -> dict[str, float] | None:
    """n pairs, the similarity of the pairs as written (diag), of the best rearrangement (best), their ratio.

    Similarity is two views added, each scaled to its own maximum: idf-weighted shared stems (both
    directions) and character 4-gram cosine; the best rearrangement is an exact assignment."""
    _, pairs = _pairs(doc.content, content_type)
    if len(pairs) < 3:
        return None
    sides: list[tuple[Side, Side]] = [((p,), (r,)) for p, r in pairs]
    if content_type == "study_guide":
        sides = _with_context(doc.content, pairs)
    pieces = _Pieces()
    forward = pairing_matrix(sides, pieces)
    backward = pairing_matrix([(r, p) for p, r in sides], pieces)
    grams = _gram_matrix(sides, pieces)
    n = len(sides)
    lexical = [[forward[i][j] + backward[j][i] for j in range(n)] for i in range(n)]
    top_l = max(max(row) for row in lexical) or 1.0
    top_g = max(max(row) for row in grams) or 1.0
    sim = [[lexical[i][j] / top_l + grams[i][j] / top_g for j in range(n)] for i in range(n)]
    diag = sum(sim[i][i] for i in range(n))
    columns = assignment(sim)
    best = sum(sim[i][j] for i, j in enumerate(columns))
    moved = sum(1 for i, j in enumerate(columns) if i != j)
    # Prompts with a word of their own in some response: the same for any arrangement of the responses.
    linked = sum(1 for row in forward if max(row) > 0)
    return {"n": n, "diag": diag, "best": best, "ratio": diag / best if best else 1.0, "linked": linked,
            "moved": moved}


# Tiers of (ratio below which the pairs as written are mismatched, least mean similarity of the best
# rearrangement for the signal to count). Answers and section bodies repeat their question's words,
# and a key concept is used in the guide's own text; a flashcard's definition mostly avoids its term,
# so there only a stark mismatch is visible: a ratio under 0.15, or under 0.25 where the cards and
# definitions share much (a signal of 0.95 since the tenth round, 0.8 before: sound card sets whose
# terms are questions sharing their words, "¿Cuándo me lavo las manos?", reach 0.82-0.92).
MIN_LINKED = 3
_PAIRING_LIMITS: dict[str, tuple[tuple[float, float], ...]] = {
    "faq_collection": ((0.66, 0.5),), "master_content_outline": ((0.45, 0.5),), "study_guide": ((0.55, 0.5),),
    "flashcards": ((0.15, 0.55), (0.25, 0.95))}


def meaning_ratio(content: dict[str, Any], content_type: str) -> float | None:
    """The pairs as written against their best rearrangement, by meaning (`semantic`'s sentence vectors)."""
    _, pairs = _pairs(content, content_type)
    if len(pairs) < 3:
        return None
    sim = semantic.similarity([p for p, _ in pairs], [r for _, r in pairs])
    best = sum(sim[i][j] for i, j in enumerate(assignment(sim)))
    return sum(sim[i][i] for i in range(len(pairs))) / best if best else 1.0


# How the two views decide, per type (issue 20, sixth round; tuned on every part up to heldout5):
# - an FAQ's answers repeat their question's words and its meaning: the two ratios added, under 1.44;
# - a flashcard's definition mostly avoids its term, so the words rarely show a mismatch: the lexical
#   rule above, or the meaning alone when stark (under 0.55; sound sets stay at or above 0.6);
# - an outline's section titles are short and share words across sections: the lexical rule only
#   when the meaning agrees (under 0.9), which removed most of its false rejects;
# - a study guide's key concepts: the lexical rule (with the guide's own sentences as context), since
#   the ninth round only when the meaning agrees.
# Ninth round (tuned on every part up to heldout8): the lexical rule fails flashcards and study guides
# only when the meaning agrees (under 0.7 and 0.75: cards of colours or classical orders share their
# words across cards, and a guide's key concepts define each other, while their meaning pairs them),
# and cards fail on meaning alone under 0.53 (hand-written partial swaps at 0.47-0.51, sound sets from 0.55).
FAQ_SUM, CARDS_ALONE, CARDS_CONFIRM, OUTLINE_CONFIRM, GUIDE_CONFIRM = 1.44, 0.53, 0.7, 0.9, 0.75


def pairing(doc: Document, content_type: str) -> list[Defect]:
    stats = pairing_stats(doc, content_type)
    if stats is None or content_type not in _PAIRING_LIMITS:
        return []
    signal = stats["best"] / stats["n"]
    # Evidence first: when fewer than three prompts share a word with any response ("Know what comes in",
    # "Keep it going"), the comparison rests on letter fragments and cannot tell a mismatch from plain titles.
    lexical = stats["linked"] >= MIN_LINKED and any(stats["ratio"] < max_ratio and signal >= min_signal
                                                    for max_ratio, min_signal in _PAIRING_LIMITS[content_type])
    ratio = stats["ratio"]
    if content_type == "study_guide" and not lexical:
        return []  # the guide's meaning is read only to confirm its words
    meaning = meaning_ratio(doc.content, content_type)
    if meaning is None:
        return []
    # The vectors were trained on English: in another language every arrangement of the pairs looks
    # about as good to them (a Spanish card set rotated scores 0.76-0.83, as written 0.75), so there they
    # never overrule the words.
    english = doc.language == "en"
    if content_type == "faq_collection":
        lexical = ratio + meaning < FAQ_SUM
    elif content_type == "flashcards":
        lexical = (lexical and (meaning < CARDS_CONFIRM or not english)) or meaning < CARDS_ALONE
    elif content_type == "study_guide":
        lexical = meaning < GUIDE_CONFIRM or not english
    else:
        lexical = lexical and meaning < OUTLINE_CONFIRM
    ratio = min(ratio, meaning)
    if lexical:
        what, _ = _pairs(doc.content, content_type)
        return [Defect("mismatched",
                       f"the {what} do not belong to their items: rearranged, they would match their items "
                       f"{1 / max(ratio, 0.01):.1f}× better than as written", 0.5)]
    return []


# --- order ---------------------------------------------------------------------------------------

# A greeting, an announcement or an invitation to begin opens a discourse and nothing else ("Welcome",
# "Today we...", "In this episode", "Let's start with", "Imagine"): found late in a passage it is a
# strong signal. Enumerators and comparisons ("First,", "Think of X as...", "heute", "zuerst") also
# start steps, analogies and paragraphs mid-text, so they are weak signals.
_OPENING = re.compile(
    r"^\W*(?:welcome\b|hello\b|hi,|today,? (?:we|i)\b|in this (?:episode|lesson|guide|reading|unit|chapter)|to begin|"
    r"let'?s (?:start|begin)|imagine\b|picture (?:this|a|an|yourself)|have you ever|stell(?:en sie sich| dir) vor|"
    r"imagin[ae]z?\b|avez-vous d[ée]j[àa]|¿?alguna vez|hola\b|bienvenid|hoy (?:vamos|hablamos)|"
    r"en este (?:episodio|cap[íi]tulo|programa)|willkommen\b|hallo\b|in (?:dieser|der heutigen) folge|bonjour|"
    r"bienvenue|dans cet (?:[ée]pisode)|aujourd'hui,? nous)",
    re.IGNORECASE,
)
_OPENING_WEAK = re.compile(
    r"^\W*(?:first(?:ly)?,|it (?:all )?(?:starts|begins)|think (?:about|of) (?:a|an|the|your)\b|primero,|"
    r"heute|zuerst|zun[äa]chst|aujourd'hui|d'abord)",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\W*(?:in (?:conclusion|summary|sum)|to (?:sum up|summari[sz]e|conclude)|so,? the next time|"
    r"that'?s all|thanks? (?:you )?for (?:listening|reading)|en (?:resumen|conclusi[óo]n|r[ée]sum[ée])|"
    r"gracias por (?:escuchar|leer|acompa[ñn]ar)|zusammenfassend|abschlie(?:ß|ss)end|"
    r"danke f[üu]rs|pour conclure|merci d'(?:avoir|[ée]couter))",
    re.IGNORECASE,
)
# "Zum Schluss" is "finally" (sixteenth round: "Zum Schluss noch ein Beispiel…" before the example), so weak.
_CLOSING_WEAK = re.compile(r"^\W*(?:in short|finalmente|por [úu]ltimo|schlie(?:ß|ss)lich|zum schluss|pour finir|enfin,)",
                           re.IGNORECASE)
# Spoken and narrative genres open on a scene or a question before their greeting (a cold open):
# there a greeting late in the first passage is only a weak signal, and that passage may name its
# subject late.
_COLD_OPEN = frozenset({"podcast_script", "detailed_reading_material"})
# Fields that are not discourse (production notes) or that by nature refer back (a conclusion opening
# "So, ..." / "Así que..."; a pronoun with nothing before it still counts).
_NOT_DISCOURSE = ("speaker_notes",)
_REFERS_BACK = ("conclusion", "summary")
_CONCLUDING_CONNECTIVE = re.compile(r"^\W*(?:so\b|thus|therefore|hence|in the end|as a result|all in all|as[íi] que|"
                                    r"por (?:eso|tanto|lo tanto)|entonces|al final|also\b|deshalb|daher|am ende|"
                                    r"donc|ainsi|au final)", re.IGNORECASE)


# "It" that stands for nothing ("It is often said that...", "It is worth noting that...") opens a
# sentence without referring back (thirteenth round), and so does "it" before an infinitive with its
# own object ("It is easy to find maps that...", "It is useful to distinguish two claims"; eighteenth
# round), unlike "It is easy to use in the kitchen" or "It is hard to break it", where "it" is the thing.
_NOT_AN_OBJECT = (r"(?:it|them|in|on|at|with|for|by|from|into|and|or|but|if|when|as|than|again|here|there|alone|"
                  r"without|after|before|because)")
_EXPLETIVE_IT = (r"\s+(?:is|was|has been|had been|seems|seemed|may be|can be|would be)\s+"
                 r"(?:(?:often|widely|commonly|generally|sometimes|still|also|now|usually|frequently)\s+)?"
                 r"(?:(?:said|believed|thought|claimed|assumed|argued|known|suggested|reported|estimated)\b|"
                 r"(?:true|important|worth|easy|hard|difficult|possible|likely|unlikely|common|tempting|natural|"
                 r"clear|obvious|useful|helpful|essential|necessary)\s+(?:that|to [a-z]+ (?!" + _NOT_AN_OBJECT + r"\b)[a-z]+|"
                 r"noting|remembering|mentioning|asking)\b)")
_ANAPHORIC = re.compile(
    r"^\W*(?:this|these|that|those|it(?!\s+(?:all\s+)?(?:starts|started|begins|began)\b)(?!" + _EXPLETIVE_IT + r")|its|they|their|them|he|she|his|her|however|but|then|thus|therefore|hence|"
    r"also|instead|otherwise|still|yet|afterwards|later|next|finally|meanwhile|similarly|likewise|moreover|"
    r"furthermore|besides|both|such|another|second|third|lastly|as a result|because of this|for example|"
    r"for instance|in addition|in turn|after that|even so|the (?:next|second|third|last|same|other)|"
    r"esto|este|esta|estos|estas|eso|ese|esa|ello|sin embargo|pero|por eso|por tanto|as[íi]|adem[áa]s|tambi[ée]n|"
    r"luego|despu[ée]s|entonces|finalmente|por ejemplo|all[íi]|como resultado|en cambio|"
    r"dies|diese[rsmn]?|dabei|dadurch|deshalb|daher|dann|danach|au(?:ß|ss)erdem|aber|jedoch|dort|zum beispiel|"
    r"schlie(?:ß|ss)lich|cela|ceci|ces|cette|ils|elles|mais|donc|ainsi|puis|ensuite|enfin|cependant|pourtant|"
    r"par exemple|de plus)\b(?!\s+(?:guide|reading|lesson|episode|unit|page|summary|course|text|chapter|"
    r"gu[íi]a|lecci[óo]n|episodio|texto|unidad|leitfaden|lektion|folge|kapitel|reihe|guide|le[çc]on|[ée]pisode))",
    re.IGNORECASE,
)
_ORDINALS = {"first": 1, "firstly": 1, "second": 2, "secondly": 2, "third": 3, "thirdly": 3, "fourth": 4,
             "finally": 9, "lastly": 9, "primero": 1, "segundo": 2, "tercero": 3, "zuerst": 1, "zweitens": 2,
             "drittens": 3, "d'abord": 1, "ensuite": 2, "enfin": 9}
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
# Only titles that can open nothing but a document: "Why..." and "What is..." head middle sections too.
_OPENING_TITLE = re.compile(r"^\W*(?:introduc|getting started|overview|einf[üu]hrung|introducci[óo]n|intro\b)",
                            re.IGNORECASE)
# A closing title is the closing word itself ("Review", "Final project", "Summary and quiz", "Bilan"):
# "Review by regulators" or "Project management" head ordinary sections.
_CLOSING_TITLE = re.compile(r"^\W*(?:(?:final|course|unit|module|last|lesson \d+:?)\s+)?(?:review|summary|conclusion|"
                            r"project|recap|wrap[- ]?up|assessment|reflection|bilanz|fazit|zusammenfassung|resumen|"
                            r"conclusi[óo]n|repaso|proyecto(?: final)?|r[ée]sum[ée]|bilan)\b\s*(?:$|[:\-\u2013(]|and\b|&|y\b|"
                            r"und\b|et\b)|\b(?:and|&|und|y|et)\s+(?:review|reflection|assessment|repaso|bilan)\W*$", re.IGNORECASE)
# A first section that refers back to earlier lessons stands where a later one belongs; "building on"
# counts only with what it builds on ("building on what you learned", not a history's "Lönnrot was
# building on earlier collectors"; seventeenth round).
_BACK_REFERENCE = re.compile(r"\b(?:having (?:built|learned|learnt|seen|studied|explored|covered)|"
                             r"building on (?:what (?:you|we)|(?:the |our |your )?(?:previous|last|earlier) "
                             r"(?:lesson|section|unit|week|module|chapter|class|session)s?)\b|"
                             r"(?:in|from) (?:the )?(?:previous|earlier|last) (?:lesson|section|week|unit)|so far|"
                             r"now that|weeks? \d+ (?:to|and) \d+|from lesson \d|everything (?:covered|learned)|"
                             r"combine everything|zum schluss|al final)", re.IGNORECASE)


_ALL_FUNCTION = frozenset().union(*FUNCTION_WORDS.values())
_DEFINES = re.compile(r"\b(?:called|known as|we call (?:it|this|them)|is named|se llama|llamad[oa]s?|hei(?:ß|ss)t|genannt|appel[ée]e?s?)\s+(?:the\s+|an?\s+|el\s+|la\s+|die\s+|der\s+|das\s+|le\s+)?([^\W\d_]{4,})", re.IGNORECASE)
# What ASCII text must contain, lowercased, for _DEFINES to match it (its words spelt without ß or é): the
# regex costs ~0.5 ms on a 2,000-word document that has none of them.
_DEFINES_ASCII = ("called", "known as", "we call ", "is named", "se llama", "llamad", "heisst", "genannt", "appele")
_DEFINITE = frozenset({"the", "this", "these", "that", "those"})
_INDEFINITE = frozenset({"a", "an"})


def _given_before_new(doc: Document) -> int:
    """Words referred to as known ("the X") before they are introduced ("a X", "called X") in the same passage."""
    count = 0
    for passage in doc.passages:
        toks = [w.lower() for w in doc.words_of(passage)]
        if len(toks) < 40:
            continue
        first_definite: dict[str, int] = {}
        for i in range(1, len(toks)):
            if toks[i] in STOPWORDS or len(toks[i]) < 4:
                continue
            prev = toks[i - 1]
            if prev not in _DEFINITE and prev not in _INDEFINITE:
                continue
            s = stem(toks[i])
            if prev in _DEFINITE:
                first_definite.setdefault(s, i)
            elif prev in _INDEFINITE and s in first_definite and i - first_definite[s] > 12:
                count += 1
                del first_definite[s]
        low = passage.lower()
        if passage.isascii() and not any(k in low for k in _DEFINES_ASCII):
            continue
        for m in _DEFINES.finditer(passage):
            target = stem(m.group(1).lower())
            before = low[: m.start()]
            if any(stem(w) == target for w in words(before)):
                count += 1
    return count


# A run-in heading ("With natural frequencies. Imagine 100,000 people.") is the paragraph's label: the
# sentence after it heads the paragraph.
MAX_RUN_IN_WORDS = 4


def _starts_paragraph(passage: str, sentence: str) -> bool:
    at = passage.find(sentence[:40])
    if at <= 0:
        return True
    before = passage[:at].rsplit("\n", 1)[-1]  # this paragraph's text before the sentence
    return len(words(before)) <= MAX_RUN_IN_WORDS


def _line_at(passage: str, sentence: str) -> int:
    """The index of the line (a paragraph, a list item, a heading) of `passage` where `sentence` starts."""
    at = passage.find(sentence[:40])
    return passage.count("\n", 0, max(at, 0))


def _inversions(values: list[int]) -> int:
    return sum(1 for a, b in zip(values, values[1:]) if b < a)


# Types whose passages answer or define a heading of their own: "It is fine to ask." opening an FAQ
# answer refers to its question, not to a sentence moved away.
_ANSWERS_HEADING = frozenset({"faq_collection", "flashcards"})


# A demonstrative opening a section may point at its heading ("A Worked Example: Mozart's K. 545, first
# movement" / "This 73-bar movement (1788) is a compact model."; twelfth round).
_DEMONSTRATIVE = re.compile(r"^\W*(?:this|these|that|those|este|esta|estos|estas|ese|esa|diese[rsmn]?|cette|ces|ce|cet)"
                            r"\s+((?:[\w\u00c0-\u00ff-]+\s+){0,2}[\w\u00c0-\u00ff-]+)", re.IGNORECASE)


def _points_at(sentence: str, heading: str) -> bool:
    """Whether `sentence` opens with a demonstrative whose noun (within three words) its heading names."""
    m = _DEMONSTRATIVE.match(sentence)
    return bool(m and heading and _stems(m.group(1)) & _stems(heading))


# A section may open against the one before it ("Sin embargo, la mayoría de los pacientes humanos no
# tiene mutaciones..." after a section on mutant dogs; seventeenth round): sections of one text are read
# in turn, and a contrast names its own subject.
_SECTION_CONTRAST = re.compile(r"^\W*(?:however|but|yet|still|even so|sin embargo|pero|no obstante|jedoch|aber|"
                               r"dennoch|cependant|mais|pourtant|toutefois)\b", re.IGNORECASE)


def _refers_to_nothing(sentence: str, content_type: str, concluding: bool, heading: str) -> bool:
    """A passage's first sentence that refers back ("It...", "However,...") with nothing before it: not
    an answer's or a card's reference to its heading, a conclusion's "So, ...", a section's "This
    movement" under a heading that names it, or a section's "However, ..." against the one before."""
    return bool(_ANAPHORIC.match(sentence) and content_type not in _ANSWERS_HEADING
                and not (concluding and _CONCLUDING_CONNECTIVE.match(sentence))
                and not _points_at(sentence, heading)
                and not (heading and _SECTION_CONTRAST.match(sentence)))


# Sentences that set up a scenario ("Imagine…", "Picture a concrete beam…", "Stellen Sie sich vor…")
# also introduce an example mid-paragraph; the sentence after such an example carries it on (sixteenth
# round), while after a shuffle it is any sentence of the passage.
_SCENARIO = re.compile(r"^\W*(?:imagine\b|picture (?:this|a|an|yourself)|stell(?:en sie sich| dir) vor|imagin[ae]z?\b)",
                       re.IGNORECASE)
COMMON_SHARE = 1 / 2  # a stem in more than this share of a passage's sentences is its subject
MIN_SCENARIO_SHARED = 1


def _scenario_continued(sentences: list[str], k: int) -> bool:
    """Whether sentence k sets up a scenario that sentence k + 1 carries on: they share a word that is
    not the passage's subject (one used in more than half of its sentences)."""
    if k + 1 >= len(sentences) or not _SCENARIO.match(sentences[k]):
        return False
    stems = [_stems(s) for s in sentences]
    common = Counter(chain.from_iterable(stems))
    shared = {w for w in stems[k] & stems[k + 1] if common[w] <= COMMON_SHARE * len(sentences)}
    return len(shared) >= MIN_SCENARIO_SHARED


def _misplaced(passage: str, sentences: list[str], content_type: str, *, first: bool = False,
               concluding: bool = False, heading: str = "") -> tuple[int, int]:
    """(strong, weak) misplaced markers: openings late, closings early, anaphora with nothing before it.

    `first`: the document's first passage (a cold open may precede the greeting in spoken and narrative
    genres, so a late greeting there is weak); `concluding`: a conclusion or summary field, which may
    open with a connective that refers back ("So, ...", "Así que...") and closes wherever it likes
    ("So the next time you hear... Thanks for listening. See you next week. Bye."); `heading`: the
    title of the section the passage is the body of."""
    strong, weak = int(_refers_to_nothing(sentences[0], content_type, concluding, heading)), 0
    n = len(sentences)
    for k, s in enumerate(sentences):
        # An opening is at home at the head of a paragraph ("Imagine..." starting the second one).
        opening = k >= 3 and (_OPENING.match(s) is not None) and not _scenario_continued(sentences, k)
        if (opening or (k >= 3 and _OPENING_WEAK.match(s))) and not _starts_paragraph(passage, s):
            if opening and not (first and content_type in _COLD_OPEN):
                strong += 1
            else:
                weak += 1
        # A conclusion paragraph may open with "To sum up" and a conclusion field close anywhere; a long
        # passage may not.
        if k < n - 2 and (k > 0 or n >= 6) and not concluding:
            if _CLOSING.match(s):
                strong += 1
            elif _CLOSING_WEAK.match(s):
                weak += 1
    return strong, weak


def _late_lead(sentences: list[str], subject: frozenset[str]) -> int:
    """1 for a long passage that names its subject only from the third sentence on."""
    if len(sentences) >= 5 and subject:
        first = next((k for k, s in enumerate(sentences) if subject & _stems(s)), None)
        return int(first is not None and first >= 2)
    return 0


def _passage_order(passage: str, sentences: list[str], subject: frozenset[str], content_type: str, *,
                   first: bool = False, concluding: bool = False, heading: str = "") -> tuple[int, int, int, int]:
    """(misplaced, weak signals: misplaced weak markers and a late lead, ordinal, years) in one passage
    of three sentences or more."""
    # Enumerations head their sentences ("Second, ...", "Finally, ..."); "a second distance" or "one
    # millionth of a second" mid-sentence are no step of a sequence.
    ranks = [r for s in sentences if (first_word := words(s[:30].lower())[:1]) and (r := _ORDINALS.get(first_word[0]))]
    # Years run backwards only within a paragraph: a thematic paragraph ("The treaty.", "Reactions.")
    # starts its own timeline (fourteenth round), and so does a line of its own, a list item or a line
    # after a heading ("- Économie : en 1962…" after "- Éducation : … en 1964…"; eighteenth round).
    found = [(_line_at(passage, s), int(y)) for s in sentences for y in _YEAR.findall(s)[:1]]
    strong, weak = _misplaced(passage, sentences, content_type, first=first, concluding=concluding, heading=heading)
    lead = 0 if first and content_type in _COLD_OPEN else _late_lead(sentences, subject)
    back_in_time = sum(1 for (p, a), (q, b) in zip(found, found[1:]) if p == q and b < a)
    return strong, weak + lead, _inversions(ranks), max(0, back_in_time - 1)


def _section_order(sections: list[Any]) -> tuple[int, int]:
    """(sections out of place, years running backwards from one section to the next)."""
    titles = [as_text(s.get("title")) for s in sections if isinstance(s, dict)]
    # The first year each section names.
    firsts = [int(m.group(1)) for sec in sections if isinstance(sec, dict)
              if (m := _YEAR.search(as_text(sec.get("title")) + " " + as_text(sec.get("content"))
                                    + " " + as_text(sec.get("description"))))]
    years = max(0, _inversions(firsts) - 1)
    misplaced = 0
    if len(titles) >= 3:
        misplaced += sum(1 for t in titles[1:] if _OPENING_TITLE.match(t))
        misplaced += sum(1 for t in titles[:-1] if _CLOSING_TITLE.search(t))
        first = sections[0] if isinstance(sections[0], dict) else {}
        if _BACK_REFERENCE.search(as_text(first.get("description")) + " " + as_text(first.get("content"))):
            misplaced += 1
    return misplaced, years


# A speaker's label opening a turn in a dialogue script ("MAYA: ...", "Dev: ..."), at the head of a line
# or after the end of the sentence before.
_SPEAKER = re.compile(r"(?:(?m:^)|(?<=[.!?\u2026\"\u201d\u00bb)] ))[ \t]*([A-Z\u00c0-\u00de][\w.\u00c0-\u00ff]{0,20}"
                      r"(?: [A-Z][\w.]{0,15})?):\s")
MIN_SPEAKER_TURNS = 3  # a label used this often names a speaker ("Note:" once is a label)
# A stage direction or sound cue ("[Music]", "(SFX: gavel)") ends a segment: the same host may open the next.
_CUE = re.compile(r"\[[^\]\n]{1,80}\]|\((?:music|sound|sfx|jingle|pause|break|musik|m[úu]sica|musique)\b[^)\n]{0,60}\)",
                  re.IGNORECASE)
_DIALOGUE = frozenset({"podcast_script"})


def _repeated_turns(doc: Document, content_type: str) -> int:
    """Consecutive turns given to the same speaker in a dialogue script. A script labels each turn once
    (a speaker who goes on keeps talking under the same label), so "MAYA: ... MAYA: ..." in a row
    means turns were moved (the corpus's sound scripts: none in 179 labelled turns; their shuffles: 2 to 13)."""
    if content_type not in _DIALOGUE:
        return 0
    skip = {v for k in _NOT_DISCOURSE if isinstance(v := doc.content.get(k), str)}
    repeats = 0
    for passage in doc.passages:
        if passage in skip:
            continue
        segments = _CUE.split(passage)
        labels = [_SPEAKER.findall(segment) for segment in segments]
        speakers = {name for name, n in Counter(x for seg in labels for x in seg).items() if n >= MIN_SPEAKER_TURNS}
        repeats += sum(1 for seg in labels for a, b in zip(seg, seg[1:]) if a == b and a in speakers)
    return repeats


def order_features(doc: Document, topic: str = "", content_type: str = "") -> dict[str, float]:
    """Evidence that sentences or sections are out of order, counted where a reader would notice."""
    misplaced = lead = ordinal = years = 0
    subject = _stems(" ".join(w for w in words(topic + " " + doc.title) if w.lower() not in _ALL_FUNCTION))
    skip = {v for k in _NOT_DISCOURSE if isinstance(v := doc.content.get(k), str)}
    back = {v for k in _REFERS_BACK if isinstance(v := doc.content.get(k), str)}
    headings = {as_text(sec.get(k)): as_text(sec.get("title")) for sec in _list_field(doc.content, "sections")
                if isinstance(sec, dict) for k in ("content", "description")}
    for n, (passage, sentences) in enumerate(zip(doc.passages, doc.passage_sentences
                                                 or [split_sentences(p) for p in doc.passages])):
        if len(sentences) < 3 or passage in skip:
            continue
        m, le, o, y = _passage_order(passage, sentences, subject, content_type, first=n == 0,
                                     concluding=passage in back, heading=headings.get(passage, ""))
        misplaced, lead, ordinal, years = misplaced + m, lead + le, ordinal + o, years + y
    given = _given_before_new(doc)
    section_order, section_years = _section_order(_list_field(doc.content, "sections"))
    # One section stepping back in time is how thematic sections read ("Technique" reaching back to
    # the paint tube of 1841 after "The Salon" of 1863): a weak signal; repeated steps back break a
    # chronology.
    back_step = int(section_years == 1)
    years += section_years - back_step
    return {"given": given, "misplaced": misplaced, "lead": lead, "ordinal": ordinal, "years": years,
            "back_step": back_step, "sections": section_order, "turns": _repeated_turns(doc, content_type)}


# Seventh round: the sound documents the order check failed on heldout7 score z = 1.8-2.9; of the
# shuffles it catches, 7 of 114 score 2.0 or more (a shuffle of a passage that stays on one subject).
COHERENT_Z = 2.0
_PERMUTATIONS = 64
MIN_COHESION_SENTENCES = 4


def meaning_cohesion(doc: Document) -> float | None:
    """How much more neighbouring sentences belong together by meaning than in a random order: per
    passage of 4+ sentences (speaker notes aside), the sum of the cosine similarities of neighbours as a
    z-score against 64 random orders of the same sentences (a fixed seed: the same document always gets
    the same figure), combined over passages (Stouffer). None when no passage is long enough."""
    skip = {v for k in _NOT_DISCOURSE if isinstance(v := doc.content.get(k), str)}
    embedded = [semantic.embed(sentences) for passage, sentences
                in zip(doc.passages, doc.passage_sentences or [split_sentences(p) for p in doc.passages])
                if len(sentences) >= MIN_COHESION_SENTENCES and passage not in skip]
    import numpy as np  # after semantic has loaded (it decides how numpy starts)

    rng = np.random.default_rng(0)
    scores: list[float] = []
    for vectors in embedded:
        n = len(vectors)
        sim = vectors @ vectors.T
        orders = np.array([rng.permutation(n) for _ in range(_PERMUTATIONS)])
        chance = sim[orders[:, :-1], orders[:, 1:]].sum(axis=1)
        spread = float(chance.std()) or 1e-6
        scores.append((float(np.trace(sim, 1)) - float(chance.mean())) / spread)
    return sum(scores) / math.sqrt(len(scores)) if scores else None


def order(doc: Document, topic: str = "", content_type: str = "") -> list[Defect]:
    f = order_features(doc, topic, content_type)
    # Two repeated speaker turns are strong (one may be a pause the writer marked), one is weak.
    turns = f["turns"]
    # One step back in time inside a passage is how history is told ("In 1926 ... Hughes had published
    # in 1921"): weak; two or more break a chronology.
    years = f["years"]
    strong = f["misplaced"] + f["sections"] + (years if years >= 2 else 0) + (turns if turns >= 2 else 0)
    weak = f["given"] + f["ordinal"] + f["lead"] + f["back_step"] + (turns == 1) + (years == 1)
    # One weak signal alone never fails a document: a misplaced opening or closing needs a second
    # one (another marker, a reference before its introduction, a long passage that names its subject
    # only from its third sentence); a section title out of place (an introduction in the middle, a
    # review before the end) is deliberate structure and counts on its own. Neighbouring sentences that
    # share fewer words than distant ones no longer count as the second (twelfth round): sound prose
    # sits at near = far as often as shuffled prose does (seen parts: 4 sound documents and 8 shuffles
    # failed on a marker with it alone, three of those sound ones on heldout10 when it was unseen).
    if strong >= 2 or f["sections"] >= 1 or (strong >= 1 and weak >= 1):
        # Markers out of place, against the meaning of the whole: neighbouring sentences that belong
        # together far more than chance would put them (`meaning_cohesion`) outweigh them; a section
        # title out of place is deliberate structure and counts as it is.
        if not f["sections"] and (z := meaning_cohesion(doc)) is not None and z >= COHERENT_Z:
            return []
        where = "sections" if f["sections"] else "sentences"
        return [Defect("order",
                       f"the {where} are out of order: openings, conclusions or references appear where they make no "
                       "sense, and neighbouring sentences do not follow from each other", 0.5)]
    return []


# --- specificity ---------------------------------------------------------------------------------

# Words that fit any topic: praise, vagueness and talk about "the topic" instead of the topic.
_GENERIC = frozenset(("""important importantly concept concepts key idea ideas many people study studies studied
    scientist scientists expert experts researcher researchers world around everyday life lives aspect aspects
    area areas field role play plays played impact impacts significant significance fascinating interesting
    valuable essential fundamental crucial various variety different differently way ways thing things topic
    topics subject subjects matter matters help helps helped learn learned learning knowledge insight insights
    deeper deep better great deal lot lots often always continue continues discover exploring explore explored
    relevant today modern long term terms word words meaning used uses useful application applications situation
    situations context perspective perspectives view approach approaches advantage advantages challenge
    challenges challenging consider considering considered worth think thinking reflect conversation experience
    experiences goal goals make makes sense connect connects connected connection connections feature features
    element elements notion phenomenon interest interested find found share message special rich new whether
    also really truly certainly definitely clearly overall general generally particular particularly
    complex simple easy easier hard understand understanding understood know known everyone someone something
    everything anything nothing people's today's next time episode show enjoyed hope join welcome excited dive
    exciting part parts piece pieces bigger picture point points level levels kind kinds type types form forms
    question questions answer answers main central big small good well best mind minds person others other
    fact facts information resource resources guide lesson course test tests exam ready review summary remember
    conclusion overview introduction step steps practice practise activities activity exercise exercises
    classmate friend recommend author text texts reader readers character characters book books story stories
    chapter chapters passage plot theme themes writer writing read reading message opinion favourite favorite
    like liked feel felt happen happened change changed changes year years history historians discuss discussed
    discussion many much more most several numerous number numbers affect affects affected influence influenced
    shape shaped shapes possible possibilities potential benefit benefits cost costs effect effects result results
    cause causes reason reasons factor factors issue issues problem problems solution solutions decision decisions
    choice choices grow growing grows develop developed development role society societies culture cultures
    wichtig wichtige wichtiges thema themen viele menschen begriff begriffe bedeutung bereich bereiche aspekt
    aspekte rolle spielt spielen interessant interessante interessantes experten meinung meinungen perspektiven
    zusammenhang zusammenhänge vorteile nachteile entdeckungen wissen lernen verstehen lohnt vielseitig komplex
    möglichkeiten zukunft dinge sache sachen lebens leben gründlich verschiedene verschiedenen eigene eigenen
    importante importantes concepto conceptos idea ideas tema temas personas muchas muchos mundo aspecto aspectos
    papel interesante interesantes expertos mensaje autor texto lectura personaje personajes principal
    aprendido gustado recomendarías amigo parte partes libro
    phénomène notion notions élément éléments essentiel essentielle important importante importants intéressant
    passionnant sujet sujets idée idées thème concept aspect fondamental utile experts monde gens vie quotidienne
    rôle grand applications nombreuses étudier étudié mérite clé concerne tout"""
    # Thirteenth round: the Spanish, French and German words above were a handful, so filler in those
    # languages scored as specific; these carry the English list's words over (translations, not words
    # taken from the corpus's filler), leaving out forms that are specific words elsewhere ("Art", "fin").
    """importancia persona gente mucho mucha fascinante fascinantes experto científico científicos investigador
    investigadores vida vidas cotidiana cotidiano área áreas campo campos impacto impactos significativo
    significativa significado valioso valiosa esencial esenciales fundamental fundamentales crucial cruciales
    variedad diferentes diferente distintos distintas forma formas manera maneras cosa cosas asunto ayuda ayudar
    ayudan aprender aprendizaje conocimiento conocimientos comprensión comprender entender profundo profunda
    mejor mejores gran grandes siempre continuar descubrir explorar relevante relevantes hoy moderno moderna
    plazo término términos palabra palabras útil útiles aplicación aplicaciones situación situaciones contexto
    perspectiva perspectivas enfoque ventaja ventajas desafío desafíos reto retos considerar reflexionar
    experiencia experiencias objetivo objetivos sentido conectar conexión conexiones característica
    características elemento elementos noción fenómeno interés encontrar compartir especial nuevo nueva nuevos
    nuevas realmente ciertamente claramente general generalmente particular complejo compleja sencillo sencilla
    fácil difícil alguien algo nada tipo tipos nivel niveles punto puntos pregunta preguntas respuesta
    respuestas principales bueno buena mente información recurso recursos lección curso recordar conclusión
    resumen introducción paso pasos práctica actividad actividades ejercicio ejercicios historia cambio cambios
    sociedad sociedades cultura culturas desarrollo crecer influencia efecto efectos resultado resultados causa
    causas razón razones factor factores problema problemas solución soluciones decisión decisiones posible
    posibles potencial beneficio beneficios
    importante importantes importance thèmes personne personnes beaucoup nombreux intéressante intéressants
    passionnante fascinant fascinante expert scientifique scientifiques chercheur chercheurs vies quotidien
    domaine domaines impact impacts significatif significative valeur précieux essentiels essentielles
    fondamentale fondamentaux cruciale variété différent différente différents différentes divers diverses
    manière manières façon façons chose choses aide aider aident apprendre apprentissage connaissance
    connaissances compréhension comprendre profond profonde meilleur meilleure meilleurs grande grands grandes
    toujours souvent continuer découvrir explorer pertinent pertinente aujourd moderne modernes terme termes mot
    mots utilisé utiles approche avantage avantages défi défis considérer réfléchir expérience expériences
    objectif objectifs sens relier lien liens caractéristique caractéristiques intérêt trouver partager spécial
    riche nouveau nouvelle nouveaux nouvelles vraiment certainement clairement général généralement particulier
    particulière complexe complexes facile difficile toute toutes rien partie parties niveau niveaux réponse
    réponses principale principaux bon bonne esprit informations ressource ressources leçon rappeler résumé
    étape étapes pratique activité activités exercice exercices livre histoire changement changements année
    années société sociétés développement effet effets résultat résultats raison raisons facteur facteurs
    problème problèmes décision décisions potentiel bénéfice bénéfices clés
    wichtigen wichtiger bedeutend bedeutende idee ideen mensch leute vielen welt interessanten spannend spannende
    faszinierend faszinierende experte wissenschaftler forscher alltag alltäglich gebiet einfluss einflüsse
    auswirkung auswirkungen bedeutsam wertvoll wertvolle wesentlich wesentliche grundlegend grundlegende
    entscheidend entscheidende vielfalt unterschiedlich unterschiedliche weise ding helfen hilft verständnis
    tief tiefer besser große großen entdecken erkunden relevant heute moderne langfristig wort wörter nützlich
    nützliche anwendung anwendungen situation situationen perspektive ansatz vorteil herausforderung
    herausforderungen betrachten nachdenken erfahrung erfahrungen ziel ziele sinn verbinden verbindung merkmal
    merkmale phänomen interesse finden teilen besonders besondere neue neuen wirklich sicherlich allgemein
    allgemeinen insbesondere einfach einfache leicht schwer teil teile ebene punkt punkte frage fragen antwort
    antworten zentral zentrale gute information informationen lektion kurs erinnern fazit zusammenfassung
    einführung schritt schritte übung übungen aktivität buch geschichte veränderung veränderungen gesellschaft
    kultur kulturen entwicklung entwickeln wirkung ergebnis ergebnisse ursache ursachen grund gründe faktor
    faktoren problem probleme lösung lösungen entscheidung entscheidungen möglich mögliche potenzial nutzen""").split())


def specificity_features(doc: Document, topic: str, function_words: frozenset[str]) -> dict[str, float]:
    topic_stems = {stem(w) for w in words(topic)}
    kinds: dict[str, int] = {}  # word -> 0 not a content word, 1 generic, 2 specific (each word classified once)

    def kind(w: str) -> int:
        if w not in kinds:
            low = w.lower()
            if len(w) <= 2 or w.isdigit() or low in STOPWORDS or stem(w) in topic_stems or low in function_words:
                kinds[w] = 0
            else:
                kinds[w] = 1 if low in _GENERIC or stem(low) in _GENERIC_STEMS else 2
        return kinds[w]

    body = doc.words_of(doc.body)
    for w in dict.fromkeys(body):
        kind(w)
    counted = Counter(map(kinds.__getitem__, body))  # each distinct word classified, each token counted in C
    generic, content = counted[1], counted[1] + counted[2]
    units = [u for u in doc.units if u.strip()]
    bare_units = sum(1 for u in units if sum(1 for w in doc.words_of(u) if kind(w) == 2) <= 1)
    return {"generic_share": generic / content if content else 1.0,
            "bare_share": bare_units / len(units) if units else 0.0, "content": content}


_GENERIC_STEMS = frozenset(stem(w) for w in _GENERIC)


GENERIC_SHARE = 0.47  # sound corpus documents (tuning part) reach 0.41; filler starts at 0.53
# Spanish, French and German name their generic words with fewer, longer forms: since the thirteenth
# round's word lists, their sound documents (seen parts) reach 0.15-0.19 and their filler starts at 0.27.
_GENERIC_SHARE_IN = {"es": 0.25, "fr": 0.25, "de": 0.25}
BARE_SHARE = 0.5  # parts (questions, cards...) with at most one word of their own


def specificity(doc: Document, topic: str, function_words: frozenset[str]) -> list[Defect]:
    f = specificity_features(doc, topic, function_words)
    share = f["generic_share"]
    # The limit of the language the text is written in: English text requested in Spanish is the
    # language check's failure, not filler.
    generic = share >= GENERIC_SHARE or (share >= _GENERIC_SHARE_IN.get(doc.language, GENERIC_SHARE)
                                         and detect(Counter(doc.toks))[0] in (None, doc.language))
    if generic or f["bare_share"] >= BARE_SHARE:
        return [Defect("generic",
                       f"the text is generic: {f['generic_share']:.0%} of its content words would fit any topic and "
                       f"{f['bare_share']:.0%} of its parts say nothing specific; name the actual facts, terms, "
                       "people and events", 0.4)]
    return []


# --- shallowness --------------------------------------------------------------------------------

# The parts that must explain, and the median length in words below which they only name things: about
# half the shortest median of any sound corpus document (FAQ answers 21, outline sections 26, reading
# sections 47), so only one-liners fail.
SHALLOW: dict[str, tuple[str, tuple[str, ...], int, str]] = {
    "faq_collection": ("items", ("answer",), 12, "answers"),
    "master_content_outline": ("sections", ("description", "key_points"), 12, "sections"),
    "detailed_reading_material": ("sections", ("content",), 25, "sections"),
    # A flashcard's back may rightly be a word: "el perro" / "the dog" on a vocabulary card. Only
    # circular definitions make cards shallow.
    "flashcards": ("items", ("definition",), 0, "definitions"),
}


RESTATED_SHARE = 0.6  # redundancy's own limit for an answer that restates its question


def _circular(items: list[Any], content_type: str) -> tuple[int, int]:
    """(items whose answer restates its question or whose definition defines the term by itself, items)."""
    pairs = [(as_text(i.get("question" if content_type == "faq_collection" else "term", "")),
              as_text(i.get("answer" if content_type == "faq_collection" else "definition", "")))
             for i in items if isinstance(i, dict)]
    if content_type == "faq_collection":
        bad = sum(1 for q, a in pairs if (r := redundancy.restated_share(q, a)) is not None and r >= RESTATED_SHARE)
    else:
        bad = sum(1 for t, d in pairs if t and redundancy.repeats_term(t, d))
    return bad, len(pairs)


def shallowness(doc: Document, content_type: str) -> list[Defect]:
    """Parts that should explain but are a line each (recall answers, one-line sections, bare
    definitions), or that only say their own question or term again, in half the items or more."""
    if content_type not in SHALLOW:
        return []
    key, fields, floor, label = SHALLOW[content_type]
    items = doc.content.get(key)
    if not isinstance(items, list):
        return []
    if content_type in ("faq_collection", "flashcards"):
        bad, n = _circular(items, content_type)
        if n >= 3 and bad * 2 >= n:
            return [Defect("shallow",
                           f"{bad} of {n} {label} only say their own "
                           f"{'question' if content_type == 'faq_collection' else 'term'} again; "
                           "explain what it is, why and how, with an example", 0.6)]
    sizes = sorted(sum(len(words(as_text(item.get(f, "")))) for f in fields)
                   for item in items if isinstance(item, dict))
    if not sizes:
        return []
    median = sizes[len(sizes) // 2]
    if median >= floor:
        return []
    return [Defect("shallow",
                   f"the {label} are too short to teach: {median} words in the middle one; explain why and how, "
                   "with an example, instead of naming the fact", 0.6)]


def review(doc: Document, content_type: str, topic: str, function_words: frozenset[str]) -> list[Defect]:
    """Every defect found, refusals first (they explain everything else)."""
    return (refusal(doc) + topic_in_body(doc, topic, content_type) + truncation(doc) + pairing(doc, content_type)
            + order(doc, topic, content_type) + specificity(doc, topic, function_words) + shallowness(doc, content_type))


def _body_stems(doc: Document) -> set[str]:
    """The stems of the body's words (each distinct word stemmed once; read by membership only)."""
    return set(map(stem, {ELISION.sub("", w) for w in doc.words_of(doc.body)}))


def topic_in_body(doc: Document, topic: str, content_type: str = "") -> list[Defect]:
    """A topic word that only the title uses: a neighbouring topic passed off under the requested title
    (the Second World War under "The First World War", the Iliad under "The Odyssey") — unless the kind
    of document need not repeat it (`coverage.named_by_kind`)."""
    from functions.generate.quality.coverage import compound_parts, named_by_kind, topic_terms

    terms = topic_terms(topic, doc.language)
    body = _body_stems(doc)
    missing = [w for s, w in terms.items() if s not in body and not any(_match(s, b) for b in body)
               and not ((parts := compound_parts(w, doc)) and all(stem(p) in body for p in parts))]
    if terms and len(missing) == len(terms) and not named_by_kind(doc, topic, content_type):  # a modifier alone ('household', 'minor') may go unsaid
        return [Defect("off_topic",
                       f"the body never mentions {', '.join(repr(m) for m in missing)} from the requested topic "
                       f"{topic!r}: only the title does, so the text is about something else", 0.5)]
    return []


# How far outside the audience's band a text may go before it no longer serves that audience at all
# (the band score itself is REFERENCE.md's and stays as it is). Young readers cannot read up; adults
# and general readers are served by plain language, so only older students are let down by text far
# below their level.
# Middle school: three grades above the band (upper high-school text, grade 11 and up; two until the
# fifteenth round); within that, text at the hard end of what 13-year-olds read (sound English
# middle-school readings, outlines and guides of the seen parts at 9.4-10.8, three of them failed at
# 10.6-11.1 on unseen parts; the corpus has no text written too hard for middle school at all, so the
# margin only has to stop text for adults, grade 13 and up).
_TOO_HARD = {"elementary": 0.25, "middle_school": 3.0}
TOO_HARD_DEFAULT = 4.0
# The Wiener Sachtextformel counts words of 3+ syllables and over 6 letters; German writes a subject's
# terms as one compound ("Kohlenstoffdioxid", "Spaltöffnungen"), so a sound middle-school outline of
# key terms reads as grade 11 (the corpus's sound German middle-school texts: 1.0 to 11.1). Only past
# the general margin is German text for grades 6-8 confidently too hard.
_TOO_HARD_IN = {("de", "middle_school"): TOO_HARD_DEFAULT, ("fr", "elementary"): 0.5}
_TOO_EASY = {"college": 6.0, "high_school": 6.0}
# A grade formula reads sentence and word length, not ideas: plain, short-sentence prose on a technical
# subject (Big-O notation, recursion, averages and spread) scores like a children's text. What children's
# text lacks is the subject's own polysyllabic terms ("logarithmic", "recursion", "deviation", the
# count SMOG rests on): "far too easy" needs both signals, the grade and a vocabulary with almost no
# words of three syllables or more (English children's texts requested for college: at most 3.1 %;
# plain technical prose for older students: at least 7.6 %). Only English: the Spanish formula puts
# sound college and elementary texts alike at grades 5-7, and German compounds make word length say
# nothing, so neither is ever "too easy".
_CHILDRENS_VOCABULARY = {"en": 0.05}
# Thirteenth round: far below the band (8+ grades under it, a second-grade text for college) a little
# more vocabulary still reads as a child's: children's texts on named things (gods, bones, weather
# words) reach 5.3-6.8 % there, while the seen sound texts for older students at grades 2-5 have 8.5 %+.
FAR_TOO_EASY, _FAR_CHILDRENS_VOCABULARY = 8.0, {"en": 0.07}
POLYSYLLABIC = 3
# Elementary text a little past the band (twelfth round): a grade formula adds sentence length and word
# length, and plain children's prose on a subject with a few longer names ("symmetry", "cinnamon",
# "continent") reads as grade 6.5-7.4 while each part stays a child's: sentences under 15 words, under
# 10 % of words of three syllables or more (10 sound English elementary documents of heldout6-11 at
# grades 6.4-7.4, all inside both). Too-hard text in that range breaks one of them: longer sentences or
# a denser vocabulary (every English too-hard variant of the corpus at grades 6.4-7.5 does). From 1.5
# grades above the band the grade alone decides. English only until the fifteenth round (below).
# Since the thirteenth round the share leaves out the words of the request (its topic and objectives):
# a unit on punctuation names "punctuation", "apostrophe" and "quotation" because it teaches them.
# Fifteenth round, Spanish: (sentence length, share, syllables that make a word long). Spanish words run
# longer ("agricultura", "canales"), so a long word has four syllables there, and Spanish children's
# prose has long sentences as often as too-hard prose does: only the vocabulary decides (a sound
# elementary reading at grade 6.5 with 5.4 % such words; the too-hard variants in that range 6.8-16 %).
_CHILDS_PARTS = {"en": (15.0, 0.10, POLYSYLLABIC), "es": (25.0, 0.06, 4)}
_ELEMENTARY_GRADE_ALONE = 1.5
# Sixteenth round: an elementary unit outline is written for the teacher who runs the unit, in a
# teacher's terms, so its grade runs higher while its vocabulary stays a child's: there the excuse holds
# up to 2.5 grades above the band (sound English outlines at grades 8.1-8.3 with 4.5-6.5 % long words
# beyond the request's; every too-hard outline variant below grade 8.5 has 13 % or more). Eighteenth
# round: up to 3 grades (a sound fourth-grade unit outline at grade 8.6 with 7.6 %; the too-hard
# outline variants at grades 8.5-8.9 have 13.5 % and 17 %).
_CHILDS_WINDOW = {"master_content_outline": 3.0}


def _polysyllables(doc: Document, language: str = "en", least: int = POLYSYLLABIC) -> list[tuple[str, int]]:
    return [(w, n) for w, n in doc.word_counts.items() if syllables_in(w, language) >= least]


def polysyllabic_share(doc: Document, taught: frozenset[str] = frozenset(),
                       polysyllables: list[tuple[str, int]] | None = None) -> float:
    """The share of words of POLYSYLLABIC syllables or more (English syllable counts), leaving out the
    words whose stems are in `taught` (`polysyllables`: those words, when already counted)."""
    found = _polysyllables(doc) if polysyllables is None else polysyllables
    return sum(n for w, n in found if not (taught and stem(w.lower()) in taught)) / max(1, doc.word_count)


def _childs_parts(audience: str, excess: float, polysyllabic: float | None, words_per_sentence: float | None,
                  language: str, window: float = _ELEMENTARY_GRADE_ALONE) -> bool:
    """Elementary text just past the band (less than `window` grades) whose sentences and vocabulary
    are both a child's."""
    limits = _CHILDS_PARTS.get(language)
    return (audience == "elementary" and excess < window and limits is not None
            and polysyllabic is not None and words_per_sentence is not None
            and words_per_sentence < limits[0] and polysyllabic < limits[1])


def audience_fit(grade: float | None, band: tuple[float, float], audience: str, *,
                 polysyllabic: float | None = None, language: str = "en",
                 words_per_sentence: float | None = None, untaught_polysyllabic: float | None = None,
                 window: float = _ELEMENTARY_GRADE_ALONE) -> list[Defect]:
    """Too hard from the grade (for elementary text just past the band, only when its sentence length
    or its vocabulary beyond the words it was asked to teach, `untaught_polysyllabic`, agrees); too
    easy only when the vocabulary agrees (`polysyllabic`, the share of words of three syllables or more,
    below the children's ceiling of `language`)."""
    if grade is None:
        return []
    label = audience.replace("_", " ")
    margin = _TOO_HARD_IN.get((language, audience), _TOO_HARD.get(audience, TOO_HARD_DEFAULT))
    child_vocabulary = polysyllabic if untaught_polysyllabic is None else untaught_polysyllabic
    if grade - band[1] >= margin and not _childs_parts(audience, grade - band[1], child_vocabulary,
                                                       words_per_sentence, language, window):
        return [Defect("audience",
                       f"written for older readers: grade level {grade:.1f} is far above the {label} band "
                       f"({band[0]:g}-{band[1]:g}), so this audience cannot learn from it", 0.5)]
    far = audience in _TOO_EASY and band[0] - grade >= FAR_TOO_EASY
    ceiling = (_FAR_CHILDRENS_VOCABULARY if far else _CHILDRENS_VOCABULARY).get(language)
    if (audience in _TOO_EASY and band[0] - grade >= _TOO_EASY[audience] and ceiling is not None
            and polysyllabic is not None and polysyllabic < ceiling):
        return [Defect("audience",
                       f"written for much younger readers: grade level {grade:.1f} is far below the {label} band "
                       f"({band[0]:g}-{band[1]:g}), with almost none of the subject's longer terms "
                       f"({polysyllabic:.1%} of the words have {POLYSYLLABIC}+ syllables)", 0.5)]
    return []


def audience_of(doc: Document, grade: float | None, band: tuple[float, float], audience: str, *,
                request: str, content_type: str = "") -> list[Defect]:
    """`audience_fit` with the measures of `doc`: its vocabulary with and without the words of the
    request (`request`: its topic and objectives), its sentence length, and the window its type allows."""
    if grade is None and doc.language in SCREENED_LANGUAGES and audience == "elementary":
        # French text for children, screened only for text far beyond them: the corpus's sound French
        # elementary texts read as grades 4.0-5.2, French texts for adults requested for children 6.7-8.5.
        grade = grade_for(doc, doc.language)
    taught = frozenset(stem(w.lower()) for w in words(request))
    found = _polysyllables(doc)
    limits = _CHILDS_PARTS.get(doc.language)
    long_words = found if doc.language == "en" or limits is None else _polysyllables(doc, doc.language, limits[2])
    return audience_fit(grade, band, audience, polysyllabic=polysyllabic_share(doc, polysyllables=found),
                        language=doc.language, words_per_sentence=doc.word_count / max(1, len(doc.sentences)),
                        untaught_polysyllabic=polysyllabic_share(doc, taught, long_words),
                        window=_CHILDS_WINDOW.get(content_type, _ELEMENTARY_GRADE_ALONE))
