"""Finding a service on the kiosk by typing letters: pinyin initials of the Chinese name
(社保卡申领 → SBKSL, so "SB" or "SBK" finds it), the initials of the English words, or a
piece of the English name."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin


def search_keys(name_zh: str, name_en: str) -> tuple[str, ...]:
    """What a service can be found by, upper case: pinyin initials, English initials, the
    English name without spaces."""
    initials = "".join(lazy_pinyin(name_zh, style=Style.FIRST_LETTER)).upper()
    words = [w for w in name_en.replace("&", " ").split() if w[:1].isalpha()]
    english = "".join(w[0] for w in words).upper()
    return initials, english, "".join(words).upper()


def matches(query: str, keys: tuple[str, ...]) -> bool:
    """An empty query matches everything; otherwise the letters appear in one of the keys."""
    letters = "".join(ch for ch in query.upper() if ch.isalnum())
    return not letters or any(letters in key for key in keys)
