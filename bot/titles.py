"""Find catalogue titles in what people type: "Heat (1995)", "the babadook", "'Up'", "babadok".

Two entry points:

- :meth:`TitleIndex.resolve` maps one mention ("Heat (1995)", "matrix", "lord of the rigns") to an
  item: exact "Title (Year)" first, then the normalised title (case, punctuation, accents, a leading
  "The", "Matrix, The"), then a title without its subtitle ("Star Wars" -> "Star Wars: Episode IV…"),
  then fuzzy matching (rapidfuzz) over candidates that share a word with the mention.
- :meth:`TitleIndex.find_mentions` finds titles inside free text ("I loved the babadook and heat").
  Every window of up to ``max_title_tokens`` words is looked up in a dict (no scan of the catalogue
  per word), misspelt words are corrected against the title vocabulary once per word, and multi-word
  windows may also match fuzzily among titles that share their first and last word.

Free text is full of film titles that are ordinary words ("It", "Up", "Her", "Heat", "Yes", "Love"),
so a window is graded by how risky it is before it counts:

- *confident* — a distinctive title ("babadook", "pulp fiction"): accepted.
- *common* — one ordinary English word (by its frequency in pyspellchecker's English word counts:
  "weekend", "nightmares", "heat"), a word many titles share, a very short word or a number, or
  several everyday words ("stand by me", "home alone"): accepted only when quoted, capitalised in
  mid-sentence in text whose capitalisation means something, the whole message ("Heat"), followed by
  its year, or listed with a confident title ("the babadook and heat"). "The X" written with its
  article is confident when X is a rarer word ("the godfather", "the matrix").
- *function word* — pronouns and the like ("it", "her", "up", "them"): quoted, capitalised in mid-sentence
  ("I watched Her twice"), or followed by one of its items' years in brackets ("Up (2009)").
- *reserved* — words the caller says mean something else (genre words like "horror", feedback words
  like "yes"): only when quoted.

When several items share a title, the most popular (then the most recent) is chosen unless a year is
given ("Heat (1986)", "Heat 1986"); :meth:`TitleIndex.alternatives` lists the others, to ask which one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable

from rapidfuzz import fuzz, process

import bot.title_words as tw
from bot.title_words import (  # noqa: F401 - re-exported: callers import them from here
    COMMON_WORDS,
    FUNCTION_WORDS,
    Candidate,
    Mention,
    TitleMatch,
    Token,
    adjacent,
    capitals_informative,
    fold,
    fold_word,
    normalize,
    sentence_initial,
    split_label,
    title_key,
    words,
    zipf,
)
from retrieval.schema import Item

log = logging.getLogger(__name__)

class TitleIndex:
    """Resolve mentions of catalogue titles to item ids. Build once per catalogue; lookups are cheap."""

    def __init__(self, items: Iterable[Item], *, reserved_words: Iterable[str] = (),
                 fuzzy_threshold: float = 88.0, max_title_tokens: int = 10) -> None:
        """``reserved_words``: words and phrases that mean something else in a message (genre names,
        moods, feedback words). A title made only of reserved words counts only when quoted; a title
        equal to a reserved phrase ("love story") is treated as common."""
        self.items: dict[str, Item] = {}
        self._exact: dict[str, list[str]] = defaultdict(list)  # title_key -> ids
        self._compact: dict[str, list[str]] = defaultdict(list)  # key without spaces -> ids
        self._alias: dict[str, list[str]] = defaultdict(list)  # title without subtitle -> ids
        self._raw: dict[str, list[str]] = defaultdict(list)  # folded raw title -> ids
        self._full: dict[str, list[str]] = defaultdict(list)  # normalised title, article kept -> ids
        self._postings: dict[str, set[str]] = defaultdict(set)  # word -> keys containing it
        self._key_len: dict[str, int] = {}
        self.fuzzy_threshold = fuzzy_threshold
        self.max_title_tokens = max_title_tokens
        for item in items:
            self._add(item)
        reserved = [normalize(p) for p in reserved_words]
        self.reserved = frozenset(p for p in reserved if p and " " not in p)
        self.reserved_phrases = frozenset(p for p in reserved if " " in p)
        self._df = {w: len(keys) for w, keys in self._postings.items()}
        tw._english_counts()  # load the word counts now rather than on the first message
        self._vocab = [w for w in self._postings if len(w) >= tw._MIN_CORRECT_LEN - 1]
        self._corrections: dict[str, str | None] = {}
        log.debug("title index: %d items, %d distinct titles, %d words", len(self.items), len(self._exact),
                  len(self._postings))

    def _add(self, item: Item) -> None:
        if item.id in self.items:
            raise ValueError(f"duplicate item id {item.id!r} ({item.label})")
        self.items[item.id] = item
        key = title_key(item.title)
        if not key:
            return
        self._exact[key].append(item.id)
        self._raw[fold(item.title).strip()].append(item.id)
        self._full[normalize(item.title)].append(item.id)
        self._compact[key.replace(" ", "")].append(item.id)
        self._key_len[key] = len(key.split())
        for w in set(key.split()):
            self._postings[w].add(key)
        parts = tw._SUBTITLE_RE.split(item.title, maxsplit=1)
        if len(parts) == 2:
            alias = title_key(parts[0])
            if alias and alias != key and len(alias.split()) >= 2:
                self._alias[alias].append(item.id)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.items

    def label(self, item_id: str) -> str:
        return self.items[item_id].label

    def alternatives(self, item_id: str) -> list[str]:
        """Other items with the same title (case, accents and punctuation aside), best first."""
        key = normalize(self.items[item_id].title)
        return [i for i in self._rank(self._full.get(key, [])) if i != item_id]

    # ------------------------------------------------------------------------------------ ranking
    def _rank(self, ids: Iterable[str], year: int | None = None) -> list[str]:
        """Most likely first: the given year (or the nearest), then popularity, then recency."""
        def sort_key(i: str) -> tuple[float, float, float]:
            it = self.items[i]
            distance = abs((it.year or 0) - year) if year is not None else 0
            return (distance, -(it.popularity or 0.0), -(it.year or 0))

        return sorted(dict.fromkeys(ids), key=sort_key)

    def _pick(self, ids: list[str], score: float, year: int | None) -> TitleMatch | None:
        if not ids:
            return None
        ranked = self._rank(ids, year)
        best = ranked[0]
        if year is not None and self.items[best].year != year:
            score -= 10 if self.items[best].year and abs(self.items[best].year - year) <= 1 else 25
        return TitleMatch(best, self.items[best].label, score, tuple(ranked[1:]))

    # ------------------------------------------------------------------------------------ resolve
    def resolve(self, mention: str, year: int | None = None,
                threshold: float | None = None) -> TitleMatch | None:
        """The item a mention names, or ``None`` below ``threshold`` (default ``fuzzy_threshold``)."""
        threshold = self.fuzzy_threshold if threshold is None else threshold
        title, label_year = split_label(mention)
        year = year if year is not None else label_year
        if not title:
            return None
        raw = fold(title).strip()
        key = title_key(title)
        for ids, score in ((self._raw.get(raw, []), 100.0), (self._full.get(normalize(title), []), 100.0),
                           (self._exact.get(key, []), 99.0),
                           (self._compact.get(key.replace(" ", ""), []), 97.0),
                           (self._alias.get(key, []), 92.0)):
            match = self._pick(ids, score, year)
            if match and match.score >= threshold:
                return match
        best = self._fuzzy(key, threshold)
        if best is None:
            return None
        key_hit, score = best
        match = self._pick(self._exact[key_hit], score, year)
        return match if match and match.score >= threshold else None

    def _fuzzy(self, key: str, threshold: float) -> tuple[str, float] | None:
        """Best title key by edit distance among keys sharing a (corrected) word with ``key``."""
        ws = [w for w in key.split() if w]
        if not ws or len(key) < 4:
            return None
        pool: set[str] = set()
        for w in sorted(set(ws), key=lambda w: self._df.get(w, 0)):
            fixed = w if w in self._postings else self._correct(w)
            if fixed is None or fixed in FUNCTION_WORDS:
                continue
            pool |= self._postings[fixed]
            if len(pool) > 2000:
                break
        if not pool:
            return None
        n = len(ws)
        choices = [k for k in pool if abs(self._key_len[k] - n) <= max(1, n // 3)]
        hit = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=threshold)
        return (hit[0], float(hit[1])) if hit else None

    def _correct(self, word: str) -> str | None:
        """A title word close to ``word`` (a likely typo), cached; ``None`` when there is none."""
        if word in self._corrections:
            return self._corrections[word]
        fixed = None
        if len(word) >= tw._MIN_CORRECT_LEN and word not in FUNCTION_WORDS and not word.isdigit():
            hit = process.extractOne(word, self._vocab, scorer=fuzz.ratio, score_cutoff=tw._CORRECT_CUTOFF)
            fixed = hit[0] if hit else None
        self._corrections[word] = fixed
        return fixed

    # ------------------------------------------------------------------------------- free text
    def _listed_common(self, k: str) -> bool:
        return (k in FUNCTION_WORDS or k in COMMON_WORDS or k in self.reserved or len(k) <= tw._SHORT_WORD_LEN
                or k.isdigit())

    def _risk(self, keys: list[str], with_article: bool = False) -> int:
        """0 confident, 1 common, 2 function words, 3 reserved (see the module docs).

        ``with_article``: the text said "the X" and the title is "The X"; a single word is then common
        only when it is an everyday word ("the weekend", "the heat"), not when it is a rarer one that
        many titles share ("the godfather").
        """
        content = [k for k in keys if k != "the"] or keys
        if all(k in self.reserved for k in content):
            return 3
        if all(k in FUNCTION_WORDS for k in content):
            return 2
        if " ".join(content) in self.reserved_phrases:
            return 1
        if len(content) == 1:
            k = content[0]
            if self._listed_common(k):
                return 1
            if with_article:
                return 1 if zipf(k) >= tw._COMMON_ZIPF_WITH_ARTICLE else 0
            return 1 if zipf(k) >= tw._COMMON_ZIPF or self._df.get(k, 0) >= tw._COMMON_DF else 0
        if all(self._listed_common(k) or zipf(k) >= tw._COMMON_ZIPF_IN_PHRASE for k in content):
            return 1
        return 0

    def find_mentions(self, text: str, expected_ids: Collection[str] = ()) -> list[Mention]:
        """Titles named in ``text``, in order, without overlaps; see the module docs for the rules.

        ``expected_ids``: items the person is likely to name (the ones just recommended); their titles
        count even when they are ordinary words ("Drive looks great"), unless reserved.
        """
        if not text or not text.strip():
            return []
        tokens = [Token(m.start(), m.end(), m.group(0), "and" if m.group(0) == "&" else fold_word(m.group(0)))
                  for m in tw._TOKEN_RE.finditer(text)]
        if not tokens:
            return []
        accepted: list[Candidate] = []
        used = [False] * len(tokens)

        # 1. quoted titles: resolved as a whole, fuzzily, whatever their risk (except reserved words)
        for m in tw._QUOTE_RE.finditer(text):
            group = next(g for g in range(1, 6) if m.group(g) is not None)
            start, end = m.start(group), m.end(group)
            inside = [i for i, t in enumerate(tokens) if t.start >= start and t.end <= end]
            if not inside or any(used[i] for i in inside):
                continue
            match = self.resolve(m.group(group))
            if match is None:
                continue
            cand = Candidate(inside[0], inside[-1] + 1, [match.item_id, *match.alternatives], match.score,
                              0, quoted=True)
            accepted.append(cand)
            for i in inside:
                used[i] = True

        # 2. every free window looked up exactly (and with typo-corrected words), then fuzzily
        informative = capitals_informative(text, tokens)
        expected = set(expected_ids)
        candidates: list[Candidate] = []
        n = len(tokens)
        for i in range(n):
            if used[i]:
                continue
            for length in range(min(self.max_title_tokens, n - i), 0, -1):
                if used[i + length - 1]:
                    continue
                cand = self._window(tokens, i, length)
                if cand is not None:
                    hits = [x for x in cand.ids if x in expected]
                    if hits and cand.risk < 3:
                        cand.ids, cand.risk = hits, 0
                    candidates.append(cand)

        # 3. keep what passes the risk rules, longest and best first, without overlaps
        pending: list[Candidate] = []
        candidates.sort(key=lambda c: (-c.length, -c.score, c.start_tok))
        for cand in candidates:
            if any(used[j] for j in range(cand.start_tok, cand.end_tok)):
                continue
            verdict = self._accept(cand, text, tokens, informative)
            if verdict is True:
                accepted.append(cand)
                for j in range(cand.start_tok, cand.end_tok):
                    used[j] = True
            elif verdict is None:
                pending.append(cand)

        # 4. common titles listed next to an accepted one: "the babadook and heat"
        changed = True
        while changed and pending:
            changed = False
            for cand in list(pending):
                if any(used[j] for j in range(cand.start_tok, cand.end_tok)):
                    pending.remove(cand)
                    continue
                if any(adjacent(text, tokens, cand, other) for other in accepted):
                    accepted.append(cand)
                    pending.remove(cand)
                    for j in range(cand.start_tok, cand.end_tok):
                        used[j] = True
                    changed = True

        mentions = [self._finish(text, tokens, c) for c in accepted]
        return sorted(mentions, key=lambda m: m.span)

    def _window(self, tokens: list[Token], i: int, length: int) -> Candidate | None:
        keys = [t.key for t in tokens[i:i + length]]
        lookup = keys[1:] if keys[0] == "the" and length > 1 else keys
        key = " ".join(lookup)
        full = self._full.get(" ".join(keys))  # the words as written, article included
        if full:
            with_article = keys[0] == "the" and length > 1
            return Candidate(i, i + length, list(full), 100.0, self._risk(lookup, with_article))
        risk = self._risk(lookup)
        ids = self._exact.get(key)
        if ids:
            return Candidate(i, i + length, list(ids), 99.0, risk)
        if length <= 3:
            ids = self._compact.get(key.replace(" ", ""))
            if ids:
                return Candidate(i, i + length, list(ids), 96.0, risk)
        ids = self._alias.get(key)
        if ids and risk == 0:
            return Candidate(i, i + length, list(ids), 92.0, risk)
        # typo-corrected words: "babadok" -> "babadook"
        # (a reserved word is said on purpose, never a typo: "comedia" is the genre, not *Comedian*)
        fixed = [w if w in self._postings or w in FUNCTION_WORDS or w in self.reserved else (self._correct(w) or w)
                 for w in lookup]
        if fixed != lookup:
            fixed_key = " ".join(fixed)
            ids = self._exact.get(fixed_key)
            if ids:
                score = float(fuzz.ratio(key, fixed_key))
                if score >= self.fuzzy_threshold and self._risk(fixed) == 0:
                    return Candidate(i, i + length, list(ids), score, 0)
        # fuzzy multi-word: among titles sharing the first and last (corrected) word
        if len(lookup) >= 2 and risk == 0 and len(key) >= 8:
            first, last = fixed[0], fixed[-1]
            if first in FUNCTION_WORDS or last in FUNCTION_WORDS:
                return None
            a, b = self._postings.get(first), self._postings.get(last)
            if not a or not b:
                return None
            pool = a & b if len(a) <= len(b) else b & a
            choices = [k for k in pool if abs(self._key_len[k] - len(lookup)) <= 1]
            if choices:
                hit = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=self.fuzzy_threshold)
                if hit:
                    return Candidate(i, i + length, list(self._exact[hit[0]]), float(hit[1]), 0)
        return None

    def _accept(self, cand: Candidate, text: str, tokens: list[Token], informative: bool) -> bool | None:
        """True: accept; None: accept only next to an accepted title; False: reject."""
        window = tokens[cand.start_tok:cand.end_tok]
        if cand.risk == 3 or tw._PLACE_BEFORE_RE.search(text[:window[0].start]):
            return False
        year = tw.bracketed_year(text[window[-1].end:])  # "Get Out (2017)": the film, however ordinary its words
        if cand.risk == 0 or (year is not None and any(self.items[i].year == year for i in cand.ids)):
            return True
        content = [t for t in window if t.key != "the"] or window
        capitalised = (informative and content[0].raw[0].isupper()
                       and not sentence_initial(text, window[0]))
        if cand.risk == 2:
            return (capitalised and all(t.raw[0].isupper() for t in content)
                    and content[0].key not in {"i", "a"})
        # risk 1: common words
        if capitalised:
            return True
        rest = (text[:window[0].start] + text[window[-1].end:]).strip(" \t\n.!?,;:\"'“”‘’()")
        if not rest:
            return True  # the whole message is the title
        if tw._YEAR_AFTER_RE.match(text[window[-1].end:]):
            return True
        return None

    def _finish(self, text: str, tokens: list[Token], cand: Candidate) -> Mention:
        start, end = tokens[cand.start_tok].start, tokens[cand.end_tok - 1].end
        if cand.quoted:
            # include the quote marks in the span
            if start > 0 and text[start - 1] in "\"'“‘*":
                start -= 1
            if end < len(text) and text[end] in "\"'”’*":
                end += 1
        year = None
        m = tw._YEAR_AFTER_RE.match(text[end:])
        if m:
            year = int(m.group(1) or m.group(2))
        ranked = self._rank(cand.ids, year)
        best = ranked[0]
        if year is not None and self.items[best].year == year:
            end += m.end()
        return Mention((start, end), best, round(cand.score, 1))
