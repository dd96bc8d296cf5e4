"""`nlpsuite recommender ...` end to end, including the bad inputs (exit status 2, one line)."""
from __future__ import annotations

import json

import pytest

from recommender.data import Interaction, write_interactions_csv
from shared.app.cli import main


def run(capsys, *argv):
    code = main(["recommender", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fit_with_bad_rows_then_recommend(tmp_path, capsys, catalogue, tiny_encoder):
    items = tmp_path / "items.csv"
    items.write_text(catalogue.items_csv.read_text() + "sp00,Duplicate of sp00,,space\n,no id,,\n", encoding="utf-8")
    log = tmp_path / "log.csv"
    log.write_text(catalogue.interactions_csv.read_text() + "u9,missing-item,view,1700000000,\n"
                   "u9,sp01,view,not-a-time,\n", encoding="utf-8")
    lines = len(catalogue.items_csv.read_text().splitlines())
    code, out, err = run(capsys, "fit", "--items", str(items), "--interactions", str(log), "--out",
                         str(tmp_path / "m"), "--encoder", str(tiny_encoder), "--scorer-users", "20",
                         "--candidates", "12", "--threads", "1", "--no-progress", "--scorer-layers", "1")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["items"] == len(catalogue.items) and summary["items_rejected"] == 2
    assert summary["interactions"] == len(catalogue.interactions) and summary["interactions_rejected"] == 2
    assert f"{items}:{lines + 1}: field 'id': duplicate item id 'sp00'" in err
    assert "field 'item': unknown item 'missing-item'" in err and "field 'timestamp'" in err
    scorer_config = json.loads((tmp_path / "m" / "scorer" / "config.json").read_text())
    assert scorer_config["num_hidden_layers"] == 1  # --scorer-layers kept one of the two layers
    assert not list((tmp_path / "m").glob(".scorer-*"))  # work folders cleaned up
    # the segment decision is shown, and it is the one the folder holds
    saved = json.loads((tmp_path / "m" / "segments.json").read_text())["segments"]
    for name, part in saved.items():
        line = next(x for x in err.splitlines() if x.strip().startswith(name + " "))
        for feature, weight in part["blend"]["weights"].items():
            assert (f"{feature} {weight:+.2f}" in line) == (weight != 0.0), (feature, line)
    assert summary["segments"].keys() == saved.keys()

    code, out, err = run(capsys, "recommend", "--model", str(tmp_path / "m"), "--user", "space-fan-1", "-k", "2",
                         "--scope", "new", "--mode", "cooccurrence")
    assert code == 0, err
    assert json.loads(out)["scope"] == "new"

    code, out, err = run(capsys, "recommend", "--model", str(tmp_path / "m"), "--user", "space-fan-1", "-k", "3")
    assert code == 0, err
    result = json.loads(out)
    assert len(result["items"]) == 3 and result["cold_start"] is False
    assert all(e["reason"].startswith("because you liked ") for e in result["items"])

    code, out, _ = run(capsys, "recommend", "--model", str(tmp_path / "m"), "--user", "stranger")
    result = json.loads(out)
    assert result["cold_start"] is True and len(result["items"]) == 10


def test_recommend_bad_inputs(capsys, fitted, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["recommender", "recommend", "--model", str(fitted), "--user", "u", "-k", "0"])
    assert exit_info.value.code == 2
    assert "k must be from 1 to 100" in capsys.readouterr().err
    code, _, err = run(capsys, "recommend", "--model", str(tmp_path / "none"), "--user", "u")
    assert code == 2 and "not a recommender folder" in err and len(err.strip().splitlines()) == 1


def test_fit_refuses_existing_folder_and_missing_files(capsys, fitted, catalogue, tmp_path):
    code, _, err = run(capsys, "fit", "--items", str(catalogue.items_csv), "--interactions",
                       str(catalogue.interactions_csv), "--out", str(fitted))
    assert code == 2 and "--force" in err
    code, _, err = run(capsys, "fit", "--items", str(tmp_path / "nope.csv"), "--interactions",
                       str(catalogue.interactions_csv), "--out", str(tmp_path / "m"))
    assert code == 2 and "nope.csv: file not found" in err


def test_evaluate_and_grow(capsys, model_copy, catalogue, tmp_path):
    test_rows = [Interaction(u, i.id, "view", 0) for u, t in catalogue.topic_of_user.items()
                 for i in catalogue.items if catalogue.topic_of_item[i.id] == t]
    test_csv = write_interactions_csv(tmp_path / "test.csv", test_rows)
    code, out, err = run(capsys, "evaluate", "--model", str(model_copy), "--interactions", str(test_csv),
                         "-k", "5", "--no-progress")
    assert code == 0, err
    metrics = json.loads(out)
    assert set(metrics) == {"popularity", "cooccurrence", "retrieval", "full"}
    assert {"precision_at_5", "recall_at_5", "map", "ndcg_at_5"} <= set(metrics["full"])
    assert metrics["retrieval"]["precision_at_5"] > metrics["popularity"]["precision_at_5"]

    code, out, _ = run(capsys, "remove-items", "--model", str(model_copy), "sp00", "ghost")
    assert code == 0 and json.loads(out)["removed"] == 1
    log = write_interactions_csv(tmp_path / "more.csv", [Interaction("late", "fo01", "purchase", 1.8e9),
                                                        Interaction("late", "sp00", "view", 1.8e9)])
    code, out, err = run(capsys, "add-interactions", "--model", str(model_copy), "--interactions", str(log))
    assert code == 0 and json.loads(out) == {"added": 1, "rejected": 1}
    assert "unknown item 'sp00'" in err
    code, out, _ = run(capsys, "recommend", "--model", str(model_copy), "--user", "late", "-k", "2")
    assert json.loads(out)["history_size"] == 1


def test_movielens_export_reloads_through_the_csv_loaders(capsys, tmp_path):
    from recommender.data import load_interactions, load_items

    code, out, err = run(capsys, "movielens", "--out", str(tmp_path), "--split")
    assert code == 0, err
    written = json.loads(out)
    items = load_items(written["items"])
    train = load_interactions(written["train"], known_items={i.id for i in items.rows})
    test = load_interactions(written["test"], known_items={i.id for i in items.rows})
    assert not items.errors and not train.errors and not test.errors
    assert len(items.rows) == 1682 and len(train.rows) + len(test.rows) == 100_000
    assert items.rows[0].text == "Toy Story (1995). Animation, Children's, Comedy"
