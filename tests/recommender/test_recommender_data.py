"""Loading catalogues and logs: bad rows are reported with their line and the rest is kept."""
from __future__ import annotations

import pytest

from recommender.data import load_interactions, load_items, parse_timestamp
from recommender.movielens import load_movielens100k
from recommender.splits import stratified_split_by_user
from shared.data import DataError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_items_malformed_rows_and_duplicates_are_reported_and_the_rest_loaded(tmp_path):
    path = write(tmp_path / "items.csv",
                 "id,title,description,tags,price\n"
                 "a1,Red shoes,Leather shoes,shoes|red,10\n"
                 "a2,,No title here,,5\n"              # line 3: empty title
                 "a3,Blue hat,\"wool, warm\",hats,7\n"  # line 4: a quoted comma is fine
                 "a1,Red shoes again,dup,shoes,10\n"   # line 5: duplicate id
                 "a4,Green scarf\n"                    # line 6: too few fields
                 "a5,Yellow coat,Warm,coats;winter,30\n")
    loaded = load_items(path)
    assert [i.id for i in loaded.rows] == ["a1", "a3", "a5"]
    assert loaded.rows[0].tags == ("shoes", "red") and loaded.rows[2].tags == ("coats", "winter")
    assert loaded.rows[1].description == "wool, warm"
    assert loaded.rows[0].title == "Red shoes"  # the first of the duplicates wins
    messages = [str(e) for e in loaded.errors]
    assert any(m.startswith(f"{path}:3: field 'title'") for m in messages), messages
    assert any(m.startswith(f"{path}:5: field 'id': duplicate item id 'a1' (first on line 2)") for m in messages)
    assert any(m.startswith(f"{path}:6:") and "field(s)" in m for m in messages)
    assert len(loaded.errors) == 3


def test_items_file_level_problems_raise(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_items(tmp_path / "missing.csv")
    with pytest.raises(DataError, match=r"missing column\(s\).*field 'title'|field 'title'.*missing"):
        load_items(write(tmp_path / "a.csv", "id,name\n1,x\n"))
    with pytest.raises(DataError, match="no valid item rows"):
        load_items(write(tmp_path / "b.csv", "id,title\n1,\n"))
    (tmp_path / "c.csv").write_bytes(b"id,title\n1,caf\xe9\n")
    with pytest.raises(DataError, match=r"c.csv:2: cannot decode"):
        load_items(tmp_path / "c.csv")


def test_interactions_bad_rows_name_line_and_field(tmp_path):
    path = write(tmp_path / "log.csv",
                 "user,item,event,timestamp,rating\n"
                 "u1,a1,view,1700000000,\n"
                 "u1,zz,click,1700000100,\n"          # 3: unknown item
                 "u2,a1,teleport,1700000200,\n"       # 4: unknown event
                 "u2,a1,click,yesterday,\n"           # 5: bad timestamp
                 "u3,a1,purchase,2024-01-02T03:04:05Z,4.5\n"
                 "u3,a1,purchase,1700000300,great\n"  # 7: bad rating
                 ",a1,view,1700000400,\n")            # 8: empty user
    loaded = load_interactions(path, known_items={"a1"})
    assert [(r.user, r.event) for r in loaded.rows] == [("u1", "view"), ("u3", "purchase")]
    assert loaded.rows[1].rating == 4.5 and loaded.rows[1].timestamp == parse_timestamp("2024-01-02T03:04:05+00:00")
    where = {(e.line, e.field) for e in loaded.errors}
    assert where == {(3, "item"), (4, "event"), (5, "timestamp"), (7, "rating"), (8, "user")}
    assert "unknown item 'zz'" in next(str(e) for e in loaded.errors if e.line == 3)


def test_movielens_loads_from_the_installed_package():
    items, interactions = load_movielens100k()
    assert len(items) == 1682 and len(interactions) == 100_000
    assert items[0].text == "Toy Story (1995). Animation, Children's, Comedy"
    assert len({r.user for r in interactions}) == 943
    train, test = stratified_split_by_user(interactions, 0.75, seed=42)
    assert len(train) + len(test) == 100_000
    assert abs(len(train) / 100_000 - 0.75) < 0.01
    assert {r.user for r in test} <= {r.user for r in train}
    again, _ = stratified_split_by_user(interactions, 0.75, seed=42)
    assert again == train  # seeded: the same split every time
