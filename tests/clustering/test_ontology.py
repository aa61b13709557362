"""The ontology file: strict loading with one-line errors naming the key, and writing."""

import pytest

from clustering.ontology import LabelTable, dump_ontology, load_ontology
from core.errors import InputError


def test_load_the_spec_example(ontology_file):
    onto = load_ontology(ontology_file)
    assert onto.version == 3
    assert [c.name for c in onto.categories] == ["search condition refinement", "price segmentation"]
    table = LabelTable.from_ontology(onto)
    assert table.sub_names == ["colour condition", "brand condition"]
    assert table.sub_owner.tolist() == [0, 0]
    assert table.main_texts[1] == "price budget cheap expensive"


def test_keywords_are_normalised_for_matching(tmp_path):
    path = tmp_path / "o.yaml"
    path.write_text("name: n\nversion: 1\ncategories:\n  - name: c\n    keywords: [OCR-Text, ' Logo ']\n")
    assert LabelTable.from_ontology(load_ontology(path)).main_keywords == [["ocr text", "logo"]]


def test_write_then_read_gives_the_same_ontology(ontology_file, tmp_path):
    onto = load_ontology(ontology_file)
    out = dump_ontology(onto, tmp_path / "sub" / "copy.yaml")
    assert load_ontology(out) == onto
    assert "keywords: [colour, color, black, red]" in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["copy.yaml"]  # no temp file left


BAD = {
    "missing keywords": ("categories:\n  - name: c\n", "key 'categories[0].keywords'"),
    "keywords not a list": ("categories:\n  - name: c\n    keywords: colour\n",
                            "key 'categories[0].keywords'"),
    "empty keywords": ("categories:\n  - name: c\n    keywords: []\n", "key 'categories[0].keywords'"),
    "keyword of punctuation": ("categories:\n  - name: c\n    keywords: [ok, '->']\n",
                               "key 'categories[0].keywords': keyword 1 ('->') has no letters or digits"),
    "sub without name": ("categories:\n  - name: c\n    keywords: [a]\n    subcategories:\n"
                         "      - keywords: [b]\n", "key 'categories[0].subcategories[0].name'"),
    "unknown key": ("categories:\n  - name: c\n    keywords: [a]\n    synonyms: [b]\n",
                    "key 'categories[0].synonyms'"),
    "duplicate category": ("categories:\n  - name: c\n    keywords: [a]\n  - name: c\n    keywords: [b]\n",
                           "duplicate category name 'c'"),
    "reserved other": ("categories:\n  - name: c\n    keywords: [a]\n    subcategories:\n"
                       "      - name: other\n        keywords: [b]\n", "'other' is reserved"),
    "no categories": ("categories: []\n", "key 'categories'"),
}


@pytest.mark.parametrize("case", BAD)
def test_malformed_ontology_is_one_line_naming_the_key(tmp_path, case):
    body, words = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text("name: n\nversion: 1\n" + body)
    with pytest.raises(InputError) as err:
        load_ontology(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)) and words in message, message


def test_missing_version_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: n\ncategories:\n  - name: c\n    keywords: [a]\n")
    with pytest.raises(InputError, match=r"key 'version': Field required"):
        load_ontology(path)


@pytest.mark.parametrize("text, words", [
    ("name: [unclosed\n", "not valid YAML at line"),
    ("- just\n- a list\n", "expected a mapping with keys name, version, categories"),
    ("", "expected a mapping"),
])
def test_not_an_ontology_at_all(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=words):
        load_ontology(path)


def test_unreadable_file(tmp_path):
    with pytest.raises(InputError, match="cannot read the ontology file"):
        load_ontology(tmp_path / "missing.yaml")
