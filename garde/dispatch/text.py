"""Text normalisation for triage: case-, accent- and punctuation-insensitive words.

"Angio-TDM thoracique : EMBOLIE ?" and "angio tdm thoracique embolie" normalise to the
same words, so keywords written once in config match whatever a modality sends.
"""

from __future__ import annotations

import re
import unicodedata

# Ligatures that NFKD does not decompose (French writes "œdème", "cœur").
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """Lower-case, accent-free words of ``text`` separated by single spaces.

    Examples
    --------
    >>> normalise("  Angio-TDM THORACIQUE : Embolie pulmonaire ? ")
    'angio tdm thoracique embolie pulmonaire'
    >>> normalise("Hémorragie méningée / œdème")
    'hemorragie meningee oedeme'
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


def words(text: str) -> list[str]:
    """The normalised words of ``text``."""
    normal = normalise(text)
    return normal.split(" ") if normal else []
