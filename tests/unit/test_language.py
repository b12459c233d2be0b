from lab.cli.language import choose_language


def test_the_flag_wins_over_the_locale():
    assert choose_language("en", {"LANG": "ko_KR.UTF-8"}) == "en"
    assert choose_language("ko", {"LANG": "en_US.UTF-8"}) == "ko"


def test_english_only_when_the_locale_names_english():
    assert choose_language(None, {"LANG": "en_US.UTF-8"}) == "en"
    assert choose_language(None, {"LANG": "ko_KR.UTF-8"}) == "ko"
    assert choose_language(None, {"LANG": "C.UTF-8"}) == "ko"
    assert choose_language(None, {}) == "ko"


def test_lc_all_overrides_lang_as_gettext_reads_it():
    assert choose_language(None, {"LC_ALL": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}) == "ko"
    assert choose_language(None, {"LC_MESSAGES": "en_GB.UTF-8", "LANG": "ko_KR.UTF-8"}) == "en"
