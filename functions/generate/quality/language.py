"""Languages the gate knows: their function words, their names, and which language a text is in.

Why function words: they are the grammar of a language (articles, prepositions, pronouns,
auxiliaries), a third to a half of any real sentence, and almost absent from word salad. The
same short lists tell which language a text is written in (the classic stop-word profile method:
a few hundred words, no model, microseconds per document) and whether its sentences are prose.
"""

from __future__ import annotations

from collections import Counter

# The measurable verbs a learning objective starts with (German puts its infinitive last): they say
# what the learner will do, not what the body must mention.
OBJECTIVE_VERBS = frozenset("""
    identify describe explain compare contrast classify apply analyze analyse evaluate create design
    calculate predict summarize summarise demonstrate justify interpret distinguish construct solve use
    list name define recall recognize recognise illustrate examine assess argue plan investigate relate
    outline discuss measure test label locate sequence order explore model estimate critique develop
    differentiate formulate propose state give show draw write build observe choose decide
    identificar describir explicar comparar contrastar clasificar aplicar analizar evaluar crear diseñar
    calcular predecir resumir demostrar justificar interpretar distinguir construir resolver usar utilizar
    nombrar definir reconocer ilustrar examinar argumentar planificar investigar relacionar situar
    explorar estimar desarrollar formular proponer elegir decidir escribir dibujar
    benennen beschreiben erklären erläutern vergleichen einordnen anwenden analysieren bewerten
    beurteilen entwerfen berechnen zusammenfassen begründen interpretieren unterscheiden lösen nutzen
    verwenden nennen definieren erkennen untersuchen planen darstellen zeichnen schreiben lesen verstehen
    identifier décrire expliquer comparer classer appliquer analyser évaluer créer concevoir calculer
    résumer démontrer justifier interpréter distinguer construire résoudre utiliser nommer définir
    reconnaître illustrer examiner argumenter planifier situer explorer estimer développer formuler
    proposer choisir écrire former comprendre""".split())

NAMES: dict[str, str] = {
    "en": "English", "es": "Spanish", "de": "German", "fr": "French", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch",
}

FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("""a an the of to in on at by for with from as into onto about over under and or but nor
        so yet if then than that which who whom whose what when where why how this these those it its is are
        was were be been being am do does did has have had having not no can could will would shall should
        may might must i you he she we they me him her us them my your his our their there here all any some
        each every both either neither more most much many very too also just only such own same other
        another up out off again once because while until before after during through between against
        without within along around among per let's it's don't isn't aren't can't won't""".split()),
    "es": frozenset("""el la los las un una unos unas de del al a en con por para sin sobre entre hasta desde
        y e o u pero ni que quien quienes cual cuales cuyo como cuando donde porque pues si no ya muy más
        menos también tan tanto es son era eran fue fueron ser estar está están estaba hay ha han había he
        se su sus lo le les me te nos mi tu yo tú él ella ellos ellas nosotros usted ustedes este esta estos
        estas ese esa esos esas aquel aquella otro otra otros otras todo toda todos todas cada mismo misma
        qué cómo cuándo dónde cuál puede pueden""".split()),
    "de": frozenset("""der die das den dem des ein eine einen einem einer eines und oder aber denn sondern
        nicht kein keine keinen mit von zu zum zur bei nach aus auf an in im am um für über unter vor hinter
        durch gegen ohne als wie wenn weil dass ob ich du er sie es wir ihr mich dich sich uns euch mein dein
        sein seine ihre ihren ihrem unser ist sind war waren wird werden wurde hat haben hatte kann können
        muss soll auch noch nur schon sehr so dann da hier dort was wer wo warum welche welcher welches
        dieser diese dieses jeder jede alle""".split()),
    "fr": frozenset("""le la les un une des du de d l au aux à en dans sur sous avec pour par sans entre et ou
        mais donc car ni que qui quoi dont où si ne pas plus moins très aussi est sont était étaient être
        avoir a ont avait il elle ils elles je tu nous vous on se sa son ses leur leurs ce cette ces cet mon
        ton notre votre comme quand pourquoi comment tout tous toute toutes""".split()),
    "it": frozenset("""il lo la i gli le un uno una di del della dei delle a al alla da dal in nel nella con su
        per tra fra e ed o ma che chi cui non più molto anche è sono era erano essere ha hanno aveva io tu lui
        lei noi voi loro si suo sua suoi questo questa questi quello quella come quando dove perché se tutto
        tutti""".split()),
    "pt": frozenset("""o a os as um uma uns umas de do da dos das em no na nos nas por pelo pela para com sem
        sobre entre e ou mas nem que quem qual como quando onde porque se não muito mais menos também é são
        era eram ser estar está estão foi há tem têm eu tu ele ela nós vós eles elas seu sua seus suas este
        esta isto esse essa isso aquele todo toda todos""".split()),
    "nl": frozenset("""de het een en of maar want dus niet geen van in op aan met voor door bij uit naar over
        onder tussen zonder als dan dat die dit deze wie wat waar waarom hoe ik jij je hij zij ze wij we jullie
        u mijn jouw zijn haar ons onze hun is zijn was waren wordt worden werd heeft hebben had kan kunnen moet
        zal ook nog al heel zo er hier daar""".split()),
}
assert set(NAMES) == set(FUNCTION_WORDS)
# Each language's name as other languages write it, inflected forms included ("im Englischen", "curso
# de inglés"): a topic naming another language than the document's is a lesson of that language.
_NAMED_AS: dict[str, frozenset[str]] = {
    "en": frozenset("english englisch englischen inglés ingles anglais inglese inglês engels".split()),
    "es": frozenset("spanish spanisch spanischen español espanol castellano espagnol spagnolo espanhol spaans".split()),
    "de": frozenset("german deutsch deutschen alemán aleman allemand tedesco alemão duits".split()),
    "fr": frozenset("french französisch französischen francés frances français francais francese francês frans".split()),
    "it": frozenset("italian italienisch italienischen italiano italien italiaans".split()),
    "pt": frozenset("portuguese portugiesisch portugiesischen portugués portugues portugais portoghese português".split()),
    "nl": frozenset("dutch niederländisch niederländischen holandés neerlandés néerlandais olandese holandês nederlands".split()),
}
assert set(_NAMED_AS) == set(FUNCTION_WORDS)


def base(code: str) -> str:
    """'es-MX' -> 'es'."""
    return code.split("-", 1)[0].lower()


def name(code: str) -> str:
    """Human name for a language code ('es' -> 'Spanish'; unknown codes are returned as given)."""
    return NAMES.get(base(code), code)


def taught(topic: str, requested: str) -> str | None:
    """The language a lesson's topic names other than the `requested` one ("Karteikarten: unregelmäßige
    Verben im Englischen" asked in German -> 'en'): its text is the lesson's content. None otherwise."""
    words = {w.strip(".,:;!?()\"'¿¡").lower() for w in topic.split()}
    own = base(requested)
    found = [code for code, names in _NAMED_AS.items() if code != own and words & names]
    return found[0] if len(found) == 1 else None


def function_words(code: str) -> frozenset[str] | None:
    return FUNCTION_WORDS.get(base(code))


def detect(counts: Counter[str], *, min_hits: int = 8) -> tuple[str | None, float]:
    """(the known language whose function words cover most of the text, that share of all words).

    `counts` maps lowercase words to occurrences. Too little text (fewer than `min_hits` function-word
    hits for every language) gives (None, 0.0): a flashcard title cannot be judged."""
    total = sum(counts.values())
    if not total:
        return None, 0.0
    best, best_hits = None, 0
    for code, vocab in FUNCTION_WORDS.items():
        hits = sum(n for w, n in counts.items() if w in vocab)
        if hits > best_hits:
            best, best_hits = code, hits
    if best_hits < min_hits:
        return None, 0.0
    return best, best_hits / total


def share_in(counts: Counter[str], code: str) -> float:
    """Share of all words that are function words of `code` (0.0 when the language is unknown)."""
    vocab = function_words(code)
    total = sum(counts.values())
    if not vocab or not total:
        return 0.0
    return sum(n for w, n in counts.items() if w in vocab) / total
