"""shared.data: every bad input fails with a DataError that names file, line and field;
splits are stratified and reproducible; the committed PhraseBank split matches its script."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.banking77 import load_banking77
from finsentiment.phrasebank import load_phrasebank
from shared.data import (
    DataError,
    LabelledTexts,
    apply_split_file,
    drop_duplicates,
    load_labelled,
    stratified_split,
)

REPO = Path(__file__).resolve().parents[3]
PHRASEBANK = REPO / "data" / "financial_phrasebank"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8", newline="")
    return p


def error_for(path: Path, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        load_labelled(path, **kwargs)
    return info.value


def assert_names(err: DataError, path: Path, line: int | None, field: str | None):
    msg = str(err)
    assert path.name in msg
    assert err.line == line
    assert err.field == field
    if line is not None:
        assert f"{path.name}:{line}:" in msg
    if field is not None:
        assert f"field {field!r}" in msg


# --- the error itself -------------------------------------------------------------------------


def test_error_format_and_attributes():
    e = DataError("empty text", "data/x.csv", 17, "text")
    assert str(e) == "data/x.csv:17: field 'text': empty text"
    assert (e.path, e.line, e.field, e.reason) == ("data/x.csv", 17, "text", "empty text")
    assert isinstance(e, ValueError)
    assert str(DataError("file not found", "a.csv")) == "a.csv: file not found"
    assert str(DataError("bad", "a.csv", field="label")) == "a.csv: field 'label': bad"
    assert str(pickle.loads(pickle.dumps(e))) == str(e)


# --- good inputs ----------------------------------------------------------------------------------


def test_csv_loads_strips_and_tolerates_bom_and_extra_columns(tmp_path):
    p = write(tmp_path, "ok.csv", "\ufeffid,text,label\n1,  hello  , greet \n2,bye,leave\n")
    d = load_labelled(p)
    assert d.texts == ["hello", "bye"] and d.labels == ["greet", "leave"]
    assert d.lines == [2, 3] and d.source == str(p)
    assert d.label_names == ["greet", "leave"] and d.label_counts() == {"greet": 1, "leave": 1}
    sub = d.subset([1])
    assert sub.texts == ["bye"] and sub.lines == [3] and sub.source == d.source


def test_csv_multiline_field_keeps_physical_line_numbers(tmp_path):
    p = write(tmp_path, "multi.csv", 'text,label\n"first\nsecond\nthird",a\nok,b\n"  ",c\n')
    err = error_for(p)
    assert_names(err, p, 6, "text")
    assert "empty text" in str(err)
    good = write(tmp_path, "good.csv", 'text,label\n"first\nsecond",a\nok,b\n')
    assert load_labelled(good).lines == [2, 4]


def test_jsonl_loads_and_skips_blank_lines(tmp_path):
    p = write(tmp_path, "ok.jsonl", '{"text": "hi", "label": "greet"}\n\n{"text": "bye", "label": 3, "x": 1}\n')
    d = load_labelled(p)
    assert d.texts == ["hi", "bye"] and d.labels == ["greet", "3"] and d.lines == [1, 3]


def test_yaml_rasa_nlu_with_entities_and_line_numbers(tmp_path):
    p = write(
        tmp_path,
        "nlu.yml",
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: greet\n"
        "  examples: |\n"
        "    - hi\n"
        "    - hello from [Berlin](city)\n"
        "- synonym: NYC\n"
        "  examples: |\n"
        "    - New York\n"
        "- intent: book\n"
        "  examples: |\n"
        '    - fly to [NYC](city:New York) on [Monday]{"entity": "day"}\n',
    )
    d = load_labelled(p, text_col="ignored", label_col="ignored")
    assert d.texts == ["hi", "hello from Berlin", "fly to NYC on Monday"]
    assert d.labels == ["greet", "greet", "book"]
    assert d.lines == [5, 6, 12]


def test_yaml_errors_name_line_and_field(tmp_path):
    p = write(tmp_path, "bad.yml", "nlu:\n- intent: greet\n  examples: |\n    - hi\n    -   \n")
    assert_names(error_for(p), p, 5, "text")
    p = write(tmp_path, "nolabel.yml", "nlu:\n- intent: ''\n  examples: |\n    - hi\n")
    assert_names(error_for(p), p, 4, "intent")
    p = write(tmp_path, "nonlu.yml", "rules: []\n")
    assert_names(error_for(p), p, 1, "nlu")
    p = write(tmp_path, "broken.yml", "nlu:\n- intent: a\n  examples: [\n")
    assert "invalid YAML" in str(error_for(p))


# --- validation: one test per case ---------------------------------------------------------------


def test_missing_file(tmp_path):
    p = tmp_path / "nope.csv"
    err = error_for(p)
    assert_names(err, p, None, None)
    assert "not found" in str(err)


def test_unknown_suffix_lists_supported_formats(tmp_path):
    p = write(tmp_path, "data.txt", "hello\n")
    err = error_for(p)
    assert "data.txt" in str(err) and ".csv" in str(err) and ".jsonl" in str(err) and ".yml" in str(err)


def test_latin1_bytes_in_utf8_read_report_line_and_suggest_encoding(tmp_path):
    p = write(tmp_path, "latin.csv", "text,label\nfine,a\ncaf\xe9 au lait,b\n".encode("latin-1"))
    err = error_for(p)
    assert_names(err, p, 3, None)
    assert "0xe9" in str(err) and "encoding=" in str(err)
    assert load_labelled(p, encoding="latin-1").texts[1] == "café au lait"


@pytest.mark.parametrize("name,content", [("empty.csv", ""), ("blank.jsonl", "\n  \n"), ("empty.yml", "\n")])
def test_empty_file(tmp_path, name, content):
    p = write(tmp_path, name, content)
    err = error_for(p)
    assert_names(err, p, None, None)
    assert "empty file" in str(err)


def test_header_only_has_no_data_rows(tmp_path):
    p = write(tmp_path, "header.csv", "text,label\n")
    err = error_for(p)
    assert p.name in str(err) and "no data rows" in str(err)


def test_missing_columns_lists_found_columns(tmp_path):
    p = write(tmp_path, "cols.csv", "\n\nsentence,category\nhi,a\n")
    err = error_for(p)
    assert_names(err, p, 3, "text, label")
    assert "'sentence', 'category'" in str(err)
    p = write(tmp_path, "cols.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n')
    err = error_for(p)
    assert_names(err, p, 2, "label")
    assert "'text'" in str(err)


@pytest.mark.parametrize(
    "name,content,line",
    [
        ("e.csv", "text,label\nok,a\n   ,b\n", 3),
        ("e2.csv", 'text,label\nok,a\n"",b\n', 3),
        ("e.jsonl", '{"text": "ok", "label": "a"}\n{"text": " \\t ", "label": "b"}\n', 2),
    ],
)
def test_empty_text(tmp_path, name, content, line):
    p = write(tmp_path, name, content)
    err = error_for(p)
    assert_names(err, p, line, "text")
    assert "empty text" in str(err)


@pytest.mark.parametrize(
    "name,content,line",
    [("l.csv", "text,label\nok,a\nhm, \n", 3), ("l.jsonl", '{"text": "x", "label": null}\n', 1)],
)
def test_empty_label(tmp_path, name, content, line):
    p = write(tmp_path, name, content)
    err = error_for(p)
    assert_names(err, p, line, "label")
    assert "empty label" in str(err)


def test_custom_column_names_appear_in_errors(tmp_path):
    p = write(tmp_path, "c.csv", "label,content\npositive,\n")
    assert_names(error_for(p, text_col="content"), p, 2, "content")


def test_text_longer_than_max_chars(tmp_path):
    p = write(tmp_path, "long.csv", f"text,label\nshort,a\n{'x' * 51},b\n")
    err = error_for(p, max_chars=50)
    assert_names(err, p, 3, "text")
    assert "51" in str(err) and "max_chars=50" in str(err)


def test_invalid_json_line(tmp_path):
    p = write(tmp_path, "bad.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": \n')
    err = error_for(p)
    assert_names(err, p, 2, None)
    assert "invalid JSON" in str(err)


def test_json_line_not_an_object(tmp_path):
    p = write(tmp_path, "list.ndjson", '{"text": "a", "label": "x"}\n\n["b", "y"]\n')
    err = error_for(p)
    assert_names(err, p, 3, None)
    assert "object" in str(err)


def test_json_text_must_be_a_string(tmp_path):
    p = write(tmp_path, "n.jsonl", '{"text": ["a"], "label": "x"}\n')
    assert_names(error_for(p), p, 1, "text")


def test_unknown_label_against_training_labels(tmp_path):
    p = write(tmp_path, "test.csv", "text,category\nhi,greet\nwhat,weather\n")
    err = error_for(p, label_col="category", known_labels=["greet", "bye"])
    assert_names(err, p, 3, "category")
    assert "unknown label 'weather' (not in the training labels)" in str(err)


def test_row_with_wrong_field_count(tmp_path):
    p = write(tmp_path, "f.csv", 'text,label\nok,a\n"unclosed,b\nmore,c\n')
    err = error_for(p)
    assert_names(err, p, 3, "label")
    assert "field(s) but the header has 2" in str(err)


# --- dedup and splits -----------------------------------------------------------------------------


def test_drop_duplicates_counts_and_keeps_first(caplog):
    d = LabelledTexts(["a", "b", "a", "a", "c", "b"], ["x", "y", "x", "z", "x", "y"], "mem", [1, 2, 3, 4, 5, 6])
    with caplog.at_level(logging.INFO, logger="shared.data"):
        out, dropped = drop_duplicates(d)
    assert dropped == 2
    assert list(zip(out.texts, out.labels)) == [("a", "x"), ("b", "y"), ("a", "z"), ("c", "x")]
    assert out.lines == [1, 2, 4, 5]
    assert "dropped 2" in caplog.text


def synthetic(n_per_label=(60, 30, 10)) -> LabelledTexts:
    texts, labels = [], []
    for k, n in enumerate(n_per_label):
        texts += [f"text {k} {i}" for i in range(n)]
        labels += [f"label{k}"] * n
    return LabelledTexts(texts, labels, "synthetic")


def test_stratified_split_keeps_proportions_and_is_seeded():
    d = synthetic()
    train, test = stratified_split(d, 0.2, seed=1)
    assert len(train) + len(test) == len(d)
    assert not set(train.texts) & set(test.texts)
    for label, n in d.label_counts().items():
        assert abs(test.label_counts()[label] - 0.2 * n) <= 1
    again = stratified_split(d, 0.2, seed=1)
    assert again[1].texts == test.texts
    other = stratified_split(d, 0.2, seed=2)
    assert other[1].texts != test.texts


def test_stratified_split_sends_single_example_labels_to_first_part():
    d = LabelledTexts([f"t{i}" for i in range(21)], ["a"] * 10 + ["b"] * 10 + ["lonely"], "mem")
    train, test = stratified_split(d, 0.2)
    assert "lonely" in train.labels and "lonely" not in test.labels
    assert len(train) + len(test) == 21


def test_apply_split_file_rejects_bad_ids(tmp_path):
    d = synthetic((3, 2))
    p = write(tmp_path, "split.csv", "id,split\n0,train\n1,test\n9,train\n")
    with pytest.raises(DataError) as info:
        apply_split_file(d, p)
    assert_names(info.value, p, 4, "id")
    assert "out of range" in str(info.value)
    p = write(tmp_path, "split2.csv", "id,split\n0,train\n1,test\n0,validation\n")
    with pytest.raises(DataError) as info:
        apply_split_file(d, p)
    assert_names(info.value, p, 4, "id")
    assert "duplicated" in str(info.value)
    p = write(tmp_path, "split3.csv", "id,split\n0,train\nx,test\n")
    with pytest.raises(DataError) as info:
        apply_split_file(d, p)
    assert_names(info.value, p, 3, "id")


# --- the real data --------------------------------------------------------------------------------


def test_phrasebank_split_is_80_10_10_stratified_and_disjoint():
    parts = load_phrasebank()
    assert list(parts) == ["train", "validation", "test"]
    total = sum(len(p) for p in parts.values())
    assert total == 4846
    for name, frac in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
        assert abs(len(parts[name]) - frac * total) <= 1
        assert parts[name].label_names == ["negative", "neutral", "positive"]
    line_sets = [set(p.lines) for p in parts.values()]
    assert sum(len(s) for s in line_sets) == total
    assert len(set().union(*line_sets)) == total


def test_phrasebank_loader_does_not_depend_on_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert len(load_phrasebank()["test"]) == len(apply_split_file(
        load_labelled(PHRASEBANK / "sentences_50agree.csv", "content", "label"), PHRASEBANK / "split.csv")["test"])


def test_committed_split_matches_the_script():
    script = REPO / "data" / "scripts" / "make_phrasebank_split.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_split_check_fails_on_a_changed_file(tmp_path):
    (tmp_path / "sentences_50agree.csv").write_bytes((PHRASEBANK / "sentences_50agree.csv").read_bytes())
    split = (PHRASEBANK / "split.csv").read_text(encoding="utf-8")
    (tmp_path / "split.csv").write_text(split.replace("0,train", "0,test", 1), encoding="utf-8")
    script = REPO / "data" / "scripts" / "make_phrasebank_split.py"
    result = subprocess.run([sys.executable, str(script), "--check", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1


def test_banking77_categories_match_the_data():
    cats = json.loads((REPO / "data" / "banking77" / "categories.json").read_text(encoding="utf-8"))
    parts = load_banking77()
    assert (len(parts["train"]), len(parts["test"])) == (10003, 3080)
    assert parts["train"].label_names == sorted(cats) and len(cats) == 77
