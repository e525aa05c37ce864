"""Messages with nothing to read: empty, only emojis or punctuation, or keyboard mash ("asdkjhasd")."""

from __future__ import annotations

import re

from graph.language.locale import EN_WORDS, ES_WORDS, PT_WORDS
from graph.language.text import normalize
from graph.language.yesno import LAUGHTER_RE

# chat abbreviations that look like keyboard mash to the letter heuristics below
ABBREVIATIONS = frozenset(
    "pfv pfvr blz vlw tbm tmb msm cmg ctz obg qnd qnto hj dps mto mt nd kd pq td vc vcs qro qr qria qrer pls "
    "plz thx omg btw brb tks sqn bjs bj flw fds vdd tlgd mds pprt x xtudo xsalada xbacon xburger cpf cep pix "
    "whatsapp zap".split()
)
_KNOWN_WORDS = frozenset(set(PT_WORDS) | set(EN_WORDS) | set(ES_WORDS) | ABBREVIATIONS)

_VOWELS = frozenset("aeiouy")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEYBOARD_RUNS: frozenset[str] = frozenset(
    run
    for row in _KEYBOARD_ROWS
    for seq in (row, row[::-1])
    for size in ((5,) if row == "qwertyuiop" else (4,))
    for run in (seq[i : i + size] for i in range(len(seq) - size + 1))
)
_KEYBOARD_TRIGRAMS: frozenset[str] = frozenset(
    seq[i : i + 3] for row in _KEYBOARD_ROWS for seq in (row, row[::-1]) for i in range(len(seq) - 2)
)
_COMMON_CONSONANT_PAIRS = frozenset(
    "bl br ch cl cr dr fl fr gl gr gn lh nh pl pr ps pt sc sk sl sm sn sp st sw tr tw th sh ph wh "
    "ck ng nk nt nd nc nf ns nv nj nz nh mb mp mn rb rc rd rf rg rj rl rm rn rp rs rt rv rz rk rh "
    "lb lc ld lf lg lk lm ln lp ls lt lv lz ct ft gh ght xc xp xt tz ch sch ts ds ks cs ms ls rs ns "
    "bs dv bj bt pn mpl ngl wn wl wr ld lh nm tl dl kl".split()
)
INTERJECTION_RE = re.compile(r"^(?:a?hu?m+|hm+|u?hum|aff+|ue|uai)$")


def implausible_word(word: str) -> bool:
    """A folded word no one types on purpose (keyboard runs, no vowels, impossible consonant clusters)."""
    if len(word) <= 2 or word in _KNOWN_WORDS or LAUGHTER_RE.match(word) or INTERJECTION_RE.match(word):
        return False
    if any(run in word for run in _KEYBOARD_RUNS):
        return True
    # outside abbreviations already in the vocabulary, "q" is always followed by "u"
    if re.search(r"q(?!u)|[jkvwxz][jq]|[jq][jkvwxz]", word):
        return True
    if any(word.count(tri) >= 2 for tri in _KEYBOARD_TRIGRAMS):
        return True
    vowels = sum(ch in _VOWELS for ch in word)
    if len(word) >= 4 and vowels == 0:
        return True
    if len(word) >= 6 and vowels / len(word) < 0.2:
        return True
    run = longest = 0
    for ch in word:
        run = 0 if ch in _VOWELS else run + 1
        longest = max(longest, run)
    if longest >= 5:
        return True
    rare = 0
    for i in range(len(word) - 1):
        a, b = word[i], word[i + 1]
        if a in _VOWELS or b in _VOWELS or a == b:
            continue
        if a + b in _COMMON_CONSONANT_PAIRS or (b == "s" and i + 2 == len(word)):
            continue
        rare += 1
    return rare >= 3 and rare / (len(word) - 1) >= 0.3


def is_gibberish_or_empty(text: str) -> bool:
    """True for empty text, only emojis/punctuation, or keyboard mash like "asdkjhasd"."""
    norm = normalize(text or "")
    if not re.search(r"[a-z0-9]", norm):
        return True
    if re.search(r"\d", norm):
        return False
    return all(implausible_word(w) for w in re.findall(r"[a-z]+", norm))
