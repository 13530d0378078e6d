"""Factual accuracy without a judge: a neutral prior, positive evidence, and red flags.

Offline we cannot verify a claim, so no document is "perfectly factual" by default: the
score starts at `UNVERIFIED_PRIOR` (0.85: nothing found against it, nothing verified) and stays
at most `UNVERIFIED_CEILING` (0.9). Positive evidence (named sources, references, cited years,
hedged claims) adds up to 0.05; red flags subtract: a well-known misconception stated as true,
the document contradicting itself, sweeping certainty without hedging, "studies show" with no
study, statistics with no source, reading material with no references. A myth that the text
itself debunks ("It is a myth that...") is fine. The report says `factual_verified: false`;
a judge (`quality/judge.py`) replaces the prior with its verdict on the claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from functions.generate.quality import consistency
from functions.generate.quality.text import Document, PhraseSet, as_text, tokens

UNVERIFIED_PRIOR = 0.85
# Style-level red flags (absolutes, unnamed authority, unsourced figures, a single reference) fail a
# document on their own only from this much: several absolutes beyond the allowance with no hedge.
SOFT_FLAGS_CONFIDENT = 0.25
UNVERIFIED_CEILING = 0.90
SOURCED_BONUS = 0.03
HEDGED_BONUS = 0.02
CONTRADICTION_PENALTY = 0.3

# (pattern over lowercase text, what is wrong). Patterns are deliberately specific.
_MYTH_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), why)
    for p, why in (
        (r"\b(?:10|ten) ?(?:%|percent|per cent) of (?:our|the|your|their|his|her|a person's) brains?\b",
         "people use only 10% of their brains"),
        (r"great wall[^.!?]{0,80}visible[^.!?]{0,40}(?:space|moon|orbit)|visible from (?:space|the moon)[^.!?]{0,60}great wall",
         "the Great Wall of China is visible from space with the naked eye"),
        (r"goldfish[^.!?]{0,60}(?:three|3|few|two|2)[- ]second memor", "goldfish have a three-second memory"),
        (r"lightning never strikes (?:the same place )?twice", "lightning never strikes the same place twice"),
        (r"\bbats are (?:completely |totally )?blind\b", "bats are blind"),
        (r"tongue map|(?:different|specific|separate) (?:parts|areas|regions|zones) of the tongue (?:taste|detect|sense|are responsible)",
         "the tongue map (each taste on its own area of the tongue)"),
        (r"sugar (?:makes|causes|leads to)[^.!?]{0,40}hyperactiv", "sugar makes children hyperactive"),
        (r"crack(?:ing)? (?:your |one's |the )?knuckles[^.!?]{0,40}(?:causes?|leads? to|gives? you) arthritis",
         "cracking knuckles causes arthritis"),
        (r"seasons (?:are|is) caused by[^.!?]{0,50}(?:distance|closer|farther|further|nearer)"
         r"|(?:summer|winter|seasons?)[^.!?]{0,60}because[^.!?]{0,40}(?:closer to|nearer to|farther from|further from) the sun"
         r"|(?:closer to|nearer to) the sun (?:in|during) (?:the )?summer",
         "the seasons come from the Earth's distance to the Sun (they come from its tilt)"),
        (r"blood (?:in (?:your|our|the) veins )?is (?:actually )?blue\b|\bblue blood (?:in|inside) (?:your|our|the) (?:veins|body)",
         "blood in veins is blue"),
        (r"(?:visual|auditory|kinesthetic|kinaesthetic) learners? (?:learn|remember|do) (?:best|better)"
         r"|match(?:ing|es)? (?:the )?(?:teaching|instruction|lessons?) to (?:a |each |every )?(?:student'?s'? |learner'?s'? )?(?:preferred )?learning styles?"
         r"|learning styles? (?:theory )?(?:is|are|has been) (?:scientifically )?(?:proven|supported)",
         "matching teaching to 'learning styles' improves learning"),
        (r"people are (?:either )?left[- ]brained or right[- ]brained|(?:left|right)[- ]brained (?:people|persons?|students|learners) (?:are|tend)",
         "people are left-brained or right-brained"),
        (r"glass is (?:actually |really |technically )?a (?:slow[- ]moving |very slow |super-?cooled )?liquid",
         "glass is a slow-flowing liquid"),
        (r"einstein failed (?:at )?(?:math|maths|mathematics)", "Einstein failed mathematics"),
        (r"shav(?:ing|e)[^.!?]{0,50}(?:grows?|come) back (?:thicker|darker|faster|coarser)",
         "shaving makes hair grow back thicker"),
        (r"(?:most|half|majority) of (?:your|our|the body's|the) (?:body )?heat[^.!?]{0,30}(?:through|from|out of) (?:the|your|our) heads?",
         "most body heat is lost through the head"),
        (r"columbus (?:proved|showed|discovered|demonstrated) (?:that )?the (?:earth|world) (?:was|is) round"
         r"|(?:people|everyone|europeans|scholars) (?:in|during) (?:the )?(?:middle ages|medieval times|columbus'?s? time)[^.!?]{0,40}(?:believed|thought)[^.!?]{0,20}(?:earth|world) was flat",
         "medieval people believed the Earth was flat / Columbus proved it round"),
        (r"heavier objects fall faster", "heavier objects fall faster (without air resistance all fall alike)"),
        (r"vikings (?:wore|had|used) horned helmets", "Vikings wore horned helmets"),
        (r"napoleon was (?:very |extremely |unusually )?short\b", "Napoleon was unusually short"),
        (r"ostriches bury their heads", "ostriches bury their heads in the sand"),
        (r"(?:mother birds?|birds) (?:will )?(?:reject|abandon)[^.!?]{0,40}(?:touched|smell of (?:humans|people))",
         "birds abandon chicks touched by humans"),
        (r"(?:toilets?|sinks?|drains?|water)[^.!?]{0,60}(?:spins?|swirls?|drains?|flush(?:es)?)[^.!?]{0,40}(?:opposite|other) (?:way|direction)[^.!?]{0,40}hemisphere",
         "sinks drain the opposite way in the other hemisphere (Coriolis)"),
        (r"humans (?:evolved|descended|came) from (?:modern )?(?:monkeys|chimpanzees|chimps|apes that live today)",
         "humans descended from today's monkeys or chimpanzees"),
        (r"plants (?:get|take|obtain) (?:their|most of their|all their) (?:food|mass|energy) from the soil",
         "plants get their food from the soil (they make it by photosynthesis)"),
        (r"antibiotics (?:kill|cure|treat|work against|fight) (?:viruses|viral|the flu|colds?|the common cold)",
         "antibiotics work against viruses"),
        (r"cold weather (?:causes|gives you) (?:a )?colds?\b", "cold weather causes colds"),
        (r"(?:humans|people|early humans|cavemen) (?:lived|coexisted|hunted)[^.!?]{0,30}dinosaurs"
         r"|dinosaurs[^.!?]{0,30}(?:alongside|together with) (?:early )?(?:humans|people)",
         "humans lived alongside dinosaurs"),
        (r"(?:hair|nails) (?:keeps?|continues?) (?:to )?grow(?:ing)? after death", "hair and nails keep growing after death"),
        (r"carrots[^.!?]{0,40}(?:see in the dark|night vision)", "carrots give you night vision"),
        (r"swallow[^.!?]{0,30}spiders[^.!?]{0,40}sleep", "people swallow spiders in their sleep"),
        (r"the (?:sun|moon) (?:orbits|goes around|revolves around) the earth", "the Sun orbits the Earth"),
        (r"vaccines? (?:cause|causes|caused|lead to|leads to|trigger|triggers) autism|\bmmr\b[^.!?]{0,40}(?:causes?|linked to) autism",
         "vaccines cause autism"),
        (r"(?:put|putting|apply|applying|rub|rubbing) (?:some )?(?:butter|oil|toothpaste|ice) (?:on|onto|to) (?:a |the )?burns?"
         r"|butter (?:on|onto) (?:a |the )?burns?",
         "butter, oil, toothpaste or ice helps a burn (cool running water does)"),
    )
)
# Words one of which must be in the text before a myth's regex is worth running (speed).
_MYTH_KEYWORDS: tuple[tuple[str, ...], ...] = (
    ("brain",), ("great wall",), ("goldfish",), ("lightning",), ("bats",), ("tongue",), ("hyperactiv",),
    ("knuckle",), ("sun", "season"), ("blue",), ("learner", "learning style"), ("brained",), ("glass",), ("einstein",),
    ("shav",), ("head",), ("columbus", "flat"), ("heavier",), ("viking",), ("napoleon",), ("ostrich",),
    ("bird",), ("hemisphere",), ("monkey", "chimp", "apes"), ("soil",), ("antibiotic",), ("cold weather",),
    ("dinosaur",), ("after death",), ("carrot",), ("spider",), ("orbits the earth", "around the earth"),
    ("autism",), ("burn",),
)
assert len(_MYTH_KEYWORDS) == len(_MYTH_PATTERNS)
MYTHS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = tuple(
    (keys, pattern, why) for keys, (pattern, why) in zip(_MYTH_KEYWORDS, _MYTH_PATTERNS)
)
_DEBUNK = re.compile(
    r"\b(?:myths?|misconceptions?|misbeliefs?|not true|untrue|false|incorrect|wrong|mistaken|"
    r"doesn't|does not|don't|do not|isn't|is not|aren't|are not|wasn't|was not|didn't|did not|"
    r"debunk\w*|contrary to|popular belief|commonly believed|people once thought|"
    # A belief reported as someone's, not stated: "Many people think summer comes because...".
    r"(?:many|some|most|lots of) people (?:think|believe|say|assume)|people (?:often|sometimes|used to) (?:think|believe)|"
    r"you (?:might|may) (?:think|have heard)|it is (?:often|commonly|widely) (?:said|thought|believed))\b"
)
# A yes/no question asks whether the myth holds; "Since people are left-brained, which...?" presupposes it.
_YES_NO = re.compile(r"^\W*(?:do|does|did|is|are|was|were|can|could|will|has|have|is it true)\b", re.IGNORECASE)
# The next sentence refuting the one before: "That is not the reason!", "But that's wrong."
_REFUTES = re.compile(r"^\W*(?:but |actually,? |in fact,? )?(?:that|this|it)(?:'s| is| was) (?:not|wrong|false|a myth|untrue)\b",
                      re.IGNORECASE)
_ABSOLUTES = PhraseSet(
    "always|never|guarantee|guarantees|guaranteed|proven fact|scientifically proven|undeniable|undeniably|"
    "indisputable|indisputably|unquestionable|unquestionably|without doubt|without a doubt|without any doubt|"
    "definitely|certainly|absolutely|impossible|completely safe|totally safe|no exception|no exceptions|"
    "without exception|everyone knows|everybody knows|nobody can|the only way|cannot fail|can't fail|"
    "it is a fact that|100 percent"
)
_HEDGES = PhraseSet(
    "often|usually|typically|generally|mostly|may|might|can|could|tend to|tends to|most|many|some|likely|"
    "about|around|approximately|roughly|in most cases|in many cases|research suggests|evidence suggests|"
    "according to|estimate|estimated|probably"
)
_VAGUE_AUTHORITY = PhraseSet(
    "studies show|studies prove|studies have shown|studies have proven|research shows|research proves|"
    "research has proven|scientists say|scientists agree|scientists have proven|scientists know|experts say|"
    "experts agree|it is known that|it is well known that|it is well-known that|science says|science has proven"
)
_ATTRIBUTION = PhraseSet(
    "according to|et al|journal|published in|published by|reported by|survey by|study by|a study in|"
    "nasa|unesco|census|world health organization|royal society|national academy|national institutes|"
    "geological survey|oecd|noaa|cdc|university of|institute of"
)
_DIGIT = re.compile(r"\d")
_INSTRUCTION = re.compile(r"^\W*(?:always|never)\s+[a-z]+(?<!s)\b(?!\s+(?:is|are|was|were|be|been)\b)", re.IGNORECASE)
_FULL_PERCENT = re.compile(r"(?<![\u00d7x*=]\s)(?<![\u00d7x*=])\b100 ?%")
_QUOTED = re.compile(r"[\"\u201c\u00ab][^\"\u201d\u00bb]{2,120}[\"\u201d\u00bb]|(?<![\w])['\u2018][^'\u2018\u2019]{2,120}['\u2019](?![\w])")
_CITED_YEAR = re.compile(r"\((?:19|20)\d\d\)")
_STATISTIC = re.compile(r"\d+(?:\.\d+)? ?(?:%|percent|per cent)|\d+(?:\.\d+)? (?:million|billion|trillion)\b")
# Worked examples and hypotheticals use numbers without claiming a statistic.
_HYPOTHETICAL = PhraseSet("imagine|for example|for instance|suppose|say|if|would|e.g.|consider|let's|try")
# A bracket holding a slot's name ("[Author]", "[Year]", "[insert link]") is a template left unfilled;
# one holding a name or a note ("[Aristotle]" for an attributed work, "[1]", "[2nd ed.]") is how
# scholars cite.
_PLACEHOLDER_REF = re.compile(
    r"example\.(?:com|org)|lorem|citation needed|\btbd\b|\btodo\b|insert "
    r"|\[\s*(?:author|title|year|date|publisher|source|link|url|citation|reference|name|book|journal|article"
    r"|website|page|edition|x{2,}|\.\.\.|\u2026)s?\b[^\]]*\]", re.IGNORECASE)


# Quotation marks opening and closing a quoted claim (not the apostrophe inside "today's").
_OPEN_QUOTE = re.compile(r"(?<!\w)['\u2018\"\u201c\u00ab\u201e](?=\w)")
_CLOSE_QUOTE = re.compile(r"(?<=[\w.!?,])['\u2019\"\u201d\u00bb\u201c](?!\w)")


def _quoted(prefix: str) -> bool:
    """Whether a quotation opened in `prefix` (the sentence up to a match) is still open there."""
    opened = [m.start() for m in _OPEN_QUOTE.finditer(prefix)]
    closed = [m.start() for m in _CLOSE_QUOTE.finditer(prefix)]
    return bool(opened) and (not closed or opened[-1] > closed[-1])


def _is_debunked(text: str, start: int, end: int) -> bool:
    """Whether the sentence around a myth match says it is a myth, negates it, reports it as a belief,
    quotes it as someone's claim ("Today's defendant: 'We only use ten percent of our brains.'") or
    asks about it, or the next sentence refutes it ("That is not the reason!")."""
    left = max(text.rfind(".", 0, start), text.rfind("!", 0, start), text.rfind("?", 0, start), text.rfind("\n", 0, start))
    if _quoted(text[left + 1: start]):
        return True
    rights = [i for i in (text.find(".", end), text.find("!", end), text.find("?", end), text.find("\n", end)) if i != -1]
    sentence = text[left + 1: min(rights) if rights else len(text)]
    if _DEBUNK.search(sentence) or (rights and text[min(rights)] == "?" and _YES_NO.match(sentence)):
        return True  # negated, reported as a belief, or asked about ("Do we use only 10% of our brain?")
    after = min(rights) + 1 if rights else len(text)
    if _REFUTES.search(text[after: after + 80]):
        return True
    # "Myth: ..." framing in the sentence just before.
    before = text[max(0, left - 160): left + 1]
    return bool(re.search(r"\b(?:myths?|misconceptions?)\b[^.!?]*[.:!?]?\s*$", before))


@dataclass
class _Flags:
    """What the screen found against a document: hard penalties (wrong facts, no references), style-level
    soft flags, and the weaknesses naming them in the order they were found."""

    penalty: float = 0.0
    soft: float = 0.0  # style-level red flags (absolutes, unnamed authority, unsourced figures, one reference)
    weaknesses: list[str] = field(default_factory=list)


def _myths(text: str, flags: _Flags) -> None:
    """Well-known misconceptions stated as true (not debunked in their sentence)."""
    myths = []
    for keys, pattern, why in MYTHS:
        if not any(k in text for k in keys):
            continue
        match = pattern.search(text)
        if match and not _is_debunked(text, match.start(), match.end()):
            myths.append(why)
    if myths:
        flags.penalty += min(0.9, 0.35 * len(myths))
        flags.weaknesses.extend(f"factual: states a known misconception as fact: {why}" for why in myths)


def _contradictions(doc: Document, flags: _Flags) -> None:
    contradictions = consistency.find(doc)
    if contradictions:
        flags.penalty += min(0.6, CONTRADICTION_PENALTY * len(contradictions))
        flags.weaknesses.extend(f"factual: the document contradicts itself: {a[:100]!r} but elsewhere {b[:100]!r}"
                                for a, b in contradictions)


def _absolutes(doc: Document, text: str, words: int, flags: _Flags) -> None:
    """Overconfident absolutes beyond an allowance of one per 250 words, worse with no hedge at all."""
    # A question asks and a quotation reports: neither asserts an absolute.
    # An instruction ("Always balance the equation first.") advises; it claims nothing.
    absolutes = [a for sentence in doc.sentences if not sentence.rstrip().endswith("?")
                 and not _INSTRUCTION.match(sentence)
                 for a in _ABSOLUTES.find(tokens(_QUOTED.sub(" ", sentence.lower())))] if _ABSOLUTES.find_in(doc) else []
    # "× 100 %" in a formula (percent yield, percentages) is arithmetic, not certainty.
    absolutes += ["100%"] * len(_FULL_PERCENT.findall(text))
    allowed = 1 + words // 250
    excess = len(absolutes) - allowed
    if excess > 0:
        flags.soft += min(0.4, 0.06 * excess)
        if _HEDGES.count_in(doc) * 100 / words < 1.0:
            flags.soft += 0.1
        shown = ", ".join(sorted(set(absolutes))[:5])
        flags.weaknesses.append(
            f"factual: {len(absolutes)} overconfident absolutes ({shown}) in {words} words; "
            "qualify claims that have exceptions (often, usually, in most cases)"
        )


def _unnamed_authority(doc: Document, flags: _Flags) -> None:
    """'Studies show' in a document that names no source."""
    vague = _VAGUE_AUTHORITY.find_in(doc)
    if vague:
        flags.soft += min(0.2, 0.07 * len(vague))
        flags.weaknesses.append(
            f"factual: appeals to unnamed authority ({', '.join(sorted(set(vague))[:3])}) without naming a source"
        )


def _statistics(doc: Document, text: str, flags: _Flags) -> None:
    """Five or more distinct statistics (outside worked examples) in a document that names no source."""
    stats: list[str] = []
    if _STATISTIC.search(text):
        for sentence in doc.sentences:
            if _DIGIT.search(sentence) and not _HYPOTHETICAL.any(sentence):
                stats.extend(_STATISTIC.findall(sentence.lower()))
    stats = list(dict.fromkeys(stats))  # a rate used again in a worked example is one statistic
    if len(stats) >= 5:
        flags.soft += 0.1
        flags.weaknesses.append(f"factual: {len(stats)} statistics ({', '.join(stats[:3])}) without any source")


def _reading_references(refs: list[str], flags: _Flags) -> None:
    """Detailed reading material cites two or more real sources."""
    if not refs:  # a style flag since the seventh round: a reading for children rightly cites nothing
        flags.soft += 0.1
        flags.weaknesses.append("factual: detailed reading material lists no references; cite 2 or more real sources")
        return
    fake = [r for r in refs if _PLACEHOLDER_REF.search(r)]
    if fake:
        flags.penalty += min(0.25, 0.1 * len(fake))
        flags.weaknesses.append(f"factual: {len(fake)} references look like placeholders (e.g. {fake[0][:60]!r})")
    elif len(refs) < 2:
        flags.soft += 0.05
        flags.weaknesses.append("factual: only one reference; cite 2 or more sources")


def score(doc: Document, content_type: str, language: str = "en") -> tuple[float, list[str]]:
    """The unverified factual score (prior + evidence - red flags) and its weaknesses."""
    text = doc.lower
    flags = _Flags()
    english = language.split("-", 1)[0].lower() == "en"
    if english:  # the myth patterns and the contradiction pairs are English
        _myths(text, flags)
        _contradictions(doc, flags)
    _absolutes(doc, text, max(doc.word_count, 1), flags)
    references = doc.content.get("references")
    refs = [as_text(r) for r in references if as_text(r).strip()] if isinstance(references, list) else []
    sourced = bool(refs) or bool(_ATTRIBUTION.find_in(doc)) or bool(_CITED_YEAR.search(text))
    if not sourced:
        _unnamed_authority(doc, flags)
        if english:
            _statistics(doc, text, flags)
    if content_type == "detailed_reading_material":
        _reading_references(refs, flags)
    evidence = (SOURCED_BONUS if sourced else 0.0) + (HEDGED_BONUS if _HEDGES.count_in(doc) else 0.0)
    # Style-level red flags lower the score but, unless they pile up (a text of absolutes with no hedge,
    # "guaranteed", "impossible to lose", "markets never fall"), never below the prior on their own: "an
    # infinite loop never ends" and worked-example figures are not wrong facts; myths, contradictions
    # and missing or placeholder references are.
    start = min(UNVERIFIED_CEILING, UNVERIFIED_PRIOR + evidence)
    soft = flags.soft
    if soft < SOFT_FLAGS_CONFIDENT:
        soft = min(soft, max(0.0, start - UNVERIFIED_PRIOR))
    value = start - soft - flags.penalty
    return max(0.0, value), flags.weaknesses
