"""Issue 20, thirteenth round, from heldout12's false rejects (and the seen parts' remaining ones):

- a quantity left open ("usually 30 years or more") ends an English phrase;
- a closing line of short items between dashes is a word list, not a cut sentence;
- "It is often said that..." opens a passage without referring back;
- "A, not B" sets two things side by side, and two sentences that each open with a condition set out
  cases: neither contradicts the other;
- elementary text just past the band counts its long words without the words it was asked to teach;
- an outline's section descriptions fail as mismatched only when its words leave much less doubt
  (a ratio under 0.45, was 0.6);
- a text 8+ grades below a college or high-school band reads as a child's with a little more
  vocabulary (under 7 % of words of three syllables, was 5 %);
- generic filler in Spanish, French and German: the generic words carried over from the English list,
  and a limit for those languages (25 % of content words, English 47 %), read in the language the text
  is written in.
Each test of a new behaviour fails on the twelfth round's scorer (36ade13); the guards beside them show
what still fails."""

from __future__ import annotations

from functions.generate.quality import consistency, discourse
from functions.generate.quality.language import FUNCTION_WORDS
from functions.generate.quality.text import analyse, stem, words
from tests.quality_corpus.labelled import corpus

BAND = (3.0, 6.0)


def _truncation(content: dict, language: str = "en") -> list:
    doc = analyse(content)
    doc.language = language
    return discourse.truncation(doc)


def test_a_quantity_left_open_ends_an_english_phrase():
    assert _truncation({"key_concepts": ["Climate: the average weather of a place over a long time, usually 30 years or more"]}) == []
    assert _truncation({"learning_objectives": ["Place commas between items in a list of three or more"]}) == []
    # "more" waiting for what it compares with is still cut, and so is a list cut after "or".
    assert _truncation({"key_concepts": ["Climate: the weather of a place averaged over a time that is more"]})
    assert _truncation({"key_concepts": ["Climate: the average weather of a place over thirty years or"]})


_WORDS = ("Eine Solaranlage wandelt Sonnenlicht in Strom um. Die Familie braucht selbst 4.000 kWh im Jahr, "
          "den Rest speist sie ins Netz ein.\n\n")


def test_a_closing_word_list_between_dashes_is_not_a_cut_sentence():
    text = _WORDS + "Wichtige Wörter:\nder Gleichstrom – der Wechselstrom – der Ertrag – einspeisen – der Eigenverbrauch"
    assert _truncation({"main_content": text}, "de") == []


def test_a_closing_line_that_is_a_sentence_or_has_long_items_is_still_cut():
    # One line alone, and items of sentence length, are prose that stops.
    assert _truncation({"main_content": "Der Strom fließt vom Dach ins Haus – dann ins Netz – und am Abend kommt er "
                                        "aus dem Netz zurück in die Küche der Familie Meier"}, "de")
    assert _truncation({"main_content": _WORDS + "Der Wechselrichter macht aus dem Gleichstrom vom Dach Wechselstrom – "
                                                 "den das Haus und das Netz nutzen können – und die Familie zahlt "
                                                 "dann weniger für Strom aus dem Netz im Winter"}, "de")


def _order(passage: str) -> list:
    doc = analyse({"title": "Impressionism", "introduction": "Impressionism began in Paris in the 1860s.",
                   "sections": [{"title": "A common misunderstanding", "content": passage}]})
    doc.language = "en"
    return discourse.order_features(doc, "Impressionism", "detailed_reading_material")["misplaced"]


def test_an_expletive_it_refers_to_nothing_before_it():
    passage = ("It is often said that the Impressionists painted quickly and without planning. That is only half "
               "true. Monet returned to the same subjects again and again. Degas hardly ever painted outdoors.")
    assert _order(passage) == 0
    assert _order(passage.replace("It is often said that", "It is worth noting that")) == 0


def test_an_it_that_stands_for_something_still_needs_something_before_it():
    passage = ("It is a tool that painters carried outdoors. That is only half the story. Monet returned to the same "
               "subjects again and again. Degas hardly ever painted outdoors.")
    assert _order(passage) == 1


def test_a_not_b_and_cases_under_conditions_do_not_contradict():
    onepager = {"title": "Hardy-Weinberg", "main_content": (
        "Most copies of a rare recessive allele are carried by heterozygotes, not by affected individuals. "
        "Selection changes allele frequencies slowly. For rare recessive alleles, heterozygotes hold the vast "
        "majority of copies, so selection against affected individuals removes few copies.")}
    assert consistency.find(analyse(onepager)) == []
    faq = {"title": "Your first paycheck", "items": [
        {"question": "What is my net pay?", "category": "Pay", "answer": (
            "If no federal or state income tax is withheld, your net pay would be the gross pay minus FICA tax. "
            "If federal or state income tax is withheld, your net pay will be smaller than the gross pay minus FICA tax.")}]}
    assert consistency.find(analyse(faq)) == []


def test_a_fact_and_its_negation_still_contradict():
    onepager = {"title": "Hardy-Weinberg", "main_content": (
        "Most copies of a rare recessive allele are carried by heterozygotes in the population. "
        "Selection changes allele frequencies slowly. Most copies of a rare recessive allele are not carried by "
        "heterozygotes in the population.")}
    assert consistency.find(analyse(onepager))
    # Only one of the two sentences sets a condition: a claim against a case, not two cases.
    conditional = {"title": "Tax", "main_content": (
        "If you earn little, federal income tax is withheld from every paycheck of a worker. Tax law is complex. "
        "Federal income tax is not withheld from every paycheck of a worker.")}
    assert consistency.find(analyse(conditional))


def test_elementary_vocabulary_leaves_out_the_words_it_was_asked_to_teach():
    doc = analyse({"title": "Punctuation", "overview": (
        "An apostrophe shows that something belongs to someone. A quotation mark shows the words someone says. "
        "Punctuation helps the reader. An exclamation mark shows a strong feeling. We use punctuation in every "
        "sentence we write.")})
    taught = frozenset(stem(w) for w in words("Punctuation for grade 3: apostrophes, quotation and exclamation marks"))
    assert discourse.polysyllabic_share(doc, taught) < discourse.polysyllabic_share(doc) / 3
    assert discourse.audience_fit(6.9, BAND, "elementary", polysyllabic=0.107, words_per_sentence=11.0,
                                  untaught_polysyllabic=0.06) == []


def test_elementary_vocabulary_beyond_the_request_still_decides():
    # Without the request's words, or with a dense vocabulary beyond them, the text is too hard.
    assert discourse.audience_fit(6.9, BAND, "elementary", polysyllabic=0.107, words_per_sentence=11.0)
    assert discourse.audience_fit(6.9, BAND, "elementary", polysyllabic=0.107, words_per_sentence=11.0,
                                  untaught_polysyllabic=0.105)


def _outline(descriptions: list[str], titles: list[str]) -> list:
    outline = {"title": "Attachment", "sections": [
        {"section_number": n, "title": t, "description": d, "key_points": [d]}
        for n, (t, d) in enumerate(zip(titles, descriptions), 1)]}
    doc = analyse(outline)
    doc.language = "en"
    return discourse.pairing(doc, "master_content_outline")


_TITLES = ["Bowlby's theory of attachment", "The Strange Situation procedure", "Secure and insecure attachment",
           "Attachment across cultures", "Attachment in adult relationships", "Criticisms of attachment theory"]
_DESCRIPTIONS = [
    "Bowlby argued that infants are born with an innate drive to form a bond with one caregiver.",
    "Ainsworth's Strange Situation procedure observes a toddler's reactions when the mother leaves and returns.",
    "Secure infants seek comfort and are soothed; insecure attachment is avoidant or resistant.",
    "Van IJzendoorn compared Strange Situation studies across cultures and found secure attachment most common.",
    "Hazan and Shaver linked adult romantic relationships to the attachment styles of infancy.",
    "Critics say attachment theory neglects temperament, fathers and the wider family.",
]


def test_an_outline_whose_descriptions_are_rotated_still_fails():
    assert _outline(_DESCRIPTIONS[1:] + _DESCRIPTIONS[:1], _TITLES)


def test_an_outline_as_written_passes():
    assert _outline(_DESCRIPTIONS, _TITLES) == []


def test_sound_outlines_whose_sections_share_their_words_pass():
    # Seen sound outlines (English, French, German) that the old limit failed at lexical ratios 0.45-0.56.
    for entry_id in ("h5-f-cold-war-outline", "h9-x-hazcom-outline", "h7-n-weimar-gliederung",
                     "h12-jj-attachement-plan-cours"):
        entry = next(e for e in corpus.load() if e["id"] == entry_id)
        doc = analyse(entry["content"])
        doc.language = entry["language"]
        assert discourse.pairing(doc, "master_content_outline") == [], entry_id


COLLEGE = (13.0, 16.0)


def test_far_below_a_college_band_a_little_more_vocabulary_is_still_a_childs():
    assert discourse.audience_fit(3.6, COLLEGE, "college", polysyllabic=0.062)
    assert discourse.audience_fit(4.9, COLLEGE, "college", polysyllabic=0.053)


def test_plain_text_for_older_students_is_not_too_easy():
    # The seen sound texts for college at grades 2-5 have 8.5 %+; nearer the band the old ceiling holds.
    assert discourse.audience_fit(2.4, COLLEGE, "college", polysyllabic=0.085) == []
    assert discourse.audience_fit(6.2, COLLEGE, "college", polysyllabic=0.062) == []
    assert discourse.audience_fit(4.0, COLLEGE, "college", polysyllabic=0.062, language="es") == []


_FILLER = {
    "es": ("La ley de Ohm es un tema muy importante que muchas personas estudian. Comprender sus conceptos "
           "fundamentales ayuda a entender muchos aspectos de la vida cotidiana. Es un campo fascinante con "
           "numerosas aplicaciones en diferentes situaciones, y sus ideas principales tienen un gran impacto "
           "en la sociedad moderna. Conocer este tema es esencial para el desarrollo de cada persona."),
    "fr": ("Le cycle du carbone est un sujet important que beaucoup de gens étudient. Comprendre ses notions "
           "essentielles aide à mieux saisir de nombreux aspects de la vie quotidienne. C'est un domaine "
           "passionnant, avec de nombreuses applications dans différentes situations, et ses idées principales "
           "ont un grand impact sur la société moderne."),
    "de": ("Das Ohmsche Gesetz ist ein wichtiges Thema, mit dem sich viele Menschen beschäftigen. Wer die "
           "grundlegenden Begriffe versteht, kann viele Bereiche des Alltags besser verstehen. Es ist ein "
           "spannendes Gebiet mit vielen Anwendungen in unterschiedlichen Situationen, und seine zentralen "
           "Ideen haben einen großen Einfluss auf die moderne Gesellschaft."),
}
_SPECIFIC = {
    "es": ("La ley de Ohm dice que la tensión entre los extremos de un conductor es igual a la corriente por la "
           "resistencia: V = I · R. Si una resistencia de 220 ohmios recibe 5 voltios, circulan unos 23 "
           "miliamperios. Georg Simon Ohm la publicó en 1827 tras medir hilos de cobre de distinta longitud."),
    "fr": ("Les plantes absorbent le dioxyde de carbone par les stomates et le fixent par la photosynthèse. Les "
           "océans dissolvent environ un quart du CO2 émis par les combustibles fossiles, ce qui acidifie l'eau "
           "de mer. Le calcaire et le charbon stockent le carbone pendant des millions d'années."),
    "de": ("Nach dem Ohmschen Gesetz ist die Spannung an einem Leiter gleich Stromstärke mal Widerstand: U = R · I. "
           "Liegen 12 Volt an einem Widerstand von 4 Ohm, fließen 3 Ampere. Georg Simon Ohm veröffentlichte das "
           "Gesetz 1827 nach Messungen an Kupferdrähten unterschiedlicher Länge."),
}


def _generic(text: str, language: str, topic: str) -> list:
    doc = analyse({"title": topic, "executive_summary": text})
    doc.language = language
    return discourse.specificity(doc, topic, FUNCTION_WORDS[language])


def test_generic_filler_fails_in_spanish_french_and_german():
    for language, topic in (("es", "la ley de Ohm"), ("fr", "le cycle du carbone"), ("de", "das Ohmsche Gesetz")):
        assert _generic(_FILLER[language], language, topic), language


def test_specific_text_in_spanish_french_and_german_passes():
    for language, topic in (("es", "la ley de Ohm"), ("fr", "le cycle du carbone"), ("de", "das Ohmsche Gesetz")):
        assert _generic(_SPECIFIC[language], language, topic) == [], language


def test_english_text_requested_in_spanish_is_not_called_filler():
    # Its own language's limit applies: the language check fails it, not the filler check.
    text = ("Sleep helps memory: during deep sleep the hippocampus replays the day's events and the cortex stores "
            "them. In one study, students who slept after learning word pairs recalled about 20 % more of them.")
    assert _generic(text, "es", "el sueño y la memoria") == []
