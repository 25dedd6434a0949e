from garde.dispatch.text import normalise, words


def test_case_accents_and_punctuation_are_ignored():
    assert normalise("  Angio-TDM THORACIQUE : Embolie pulmonaire ? ") == (
        "angio tdm thoracique embolie pulmonaire"
    )
    assert (
        normalise("Hémorragie MÉNINGÉE / Œdème cérébral") == "hemorragie meningee oedeme cerebral"
    )
    assert normalise("Straße") == "strasse"


def test_empty_and_symbol_only_text_has_no_words():
    assert normalise("") == ""
    assert words("") == []
    assert words(" -- / ") == []
    assert words("TDM  crâne\tsans IV") == ["tdm", "crane", "sans", "iv"]
