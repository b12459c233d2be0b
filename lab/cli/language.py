"""Which language the learner reads: Korean, the book's, unless they ask for English.

`--lang ko|en` wins; otherwise the locale (LC_ALL, LC_MESSAGES, LANG, in the order gettext reads
them) chooses English only when it names English, so a VM left at C.UTF-8 still speaks Korean.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

LANGUAGES = ("ko", "en")


def choose_language(asked: str | None, environ: Mapping[str, str] | None = None) -> str:
    """'ko' or 'en' for `--lang` (None when not given) and the environment."""
    if asked:
        return asked
    env = os.environ if environ is None else environ
    locale = next((env[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(k)), "")
    return "en" if locale.lower().startswith("en") else "ko"
