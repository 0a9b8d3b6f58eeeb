"""Search normalisation: the same folded words whatever the case or accents."""

import random
import string
import unicodedata

from messaging_core.text import fold, index_tokens


def reference_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def test_accents_case_and_ligatures_fold_away() -> None:
    assert fold("Médicament À PRENDRE") == "medicament a prendre"
    assert fold("Œdème, ﬁèvre") == "œdeme, fievre"  # the ﬁ ligature becomes two letters
    assert fold("Straße") == "strasse"
    assert fold("Доктор Ёлкин") == "доктор елкин"


def test_the_ascii_shortcut_folds_as_the_full_rule_does() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(string.printable) for _ in range(40))
        assert fold(text) == reference_fold(text)


def test_index_tokens_are_distinct_folded_words_in_order() -> None:
    assert index_tokens("Prendre le MÉDICAMENT, puis le médicament") == [
        "prendre", "le", "medicament", "puis",
    ]  # fmt: skip
