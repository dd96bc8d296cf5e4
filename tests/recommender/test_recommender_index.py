"""The FAISS item index: exact answers, exclusion, incremental add/remove, save/load."""
from __future__ import annotations

import numpy as np
import pytest

from recommender.index import IVFPQ_THRESHOLD, ItemIndex, choose_kind, index_plan


def unit_vectors(n, d=24, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def exact_top(vectors, ids, query, k, exclude=()):
    scores = vectors @ query
    order = [i for i in np.argsort(-scores) if ids[i] not in set(exclude)]
    return [ids[i] for i in order[:k]]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_matches_exact_and_excludes(kind):
    vectors, ids = unit_vectors(300), [f"item-{n}" for n in range(300)]
    index = ItemIndex.build(ids, vectors, kind=kind)
    query = vectors[10] + 0.3 * vectors[20]
    query /= np.linalg.norm(query)
    found = [i for i, _ in index.search(query, 5)[0]]
    assert found == exact_top(vectors, ids, query, 5)
    excluded = found[:2]
    found = [i for i, _ in index.search(query, 5, exclude=excluded)[0]]
    assert not set(found) & set(excluded)
    assert found == exact_top(vectors, ids, query, 5, exclude=excluded)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_incremental_add_and_remove_without_rebuild(kind):
    vectors, ids = unit_vectors(120), [f"i{n}" for n in range(120)]
    index = ItemIndex.build(ids[:100], vectors[:100], kind=kind)
    faiss_object = index.index
    index.add(ids[100:], vectors[100:])
    assert len(index) == 120 and index.search(vectors[110], 1)[0][0][0] == "i110"
    assert index.remove(["i110", "i5", "not-there"]) == 2
    assert len(index) == 118 and "i110" not in index
    assert all(i not in ("i110", "i5") for i, _ in index.search(vectors[110], 118)[0])
    assert len(index.search(vectors[0], 500)[0]) == 118
    # replacing an item's vector: the new one is found, the old one is gone
    index.add(["i7"], vectors[50:51])
    assert [i for i, _ in index.search(vectors[50], 2)[0]] == ["i7", "i50"] or \
        [i for i, _ in index.search(vectors[50], 2)[0]] == ["i50", "i7"]
    assert index.search(vectors[7], 1)[0][0][0] != "i7"
    assert index.index is faiss_object  # no rebuild happened


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_load_round_trip(tmp_path, kind):
    vectors, ids = unit_vectors(80), [f"i{n}" for n in range(80)]
    index = ItemIndex.build(ids, vectors, kind=kind)
    index.remove(["i3"])
    index.save(tmp_path / "ix")
    loaded = ItemIndex.load(tmp_path / "ix")
    assert loaded.kind == kind and len(loaded) == 79 and "i3" not in loaded
    for q in (vectors[0], vectors[3], vectors[40]):
        assert loaded.search(q, 10) == index.search(q, 10)
    np.testing.assert_allclose(loaded.vectors(["i40"]), vectors[40:41], atol=1e-6)
    with pytest.raises(FileNotFoundError):
        ItemIndex.load(tmp_path / "nothing")


def test_index_kind_follows_catalogue_size():
    assert choose_kind(1_000) == "flat"
    assert choose_kind(1_000_000) == "hnsw"
    assert choose_kind(IVFPQ_THRESHOLD) == "ivfpq"
    # a million-item graph is built lighter than a 200k one (build time), not the same
    small, large = index_plan(200_000), index_plan(1_000_000)
    assert large.m < small.m and large.ef_construction < small.ef_construction
    assert index_plan(10_000_000).nlist > index_plan(IVFPQ_THRESHOLD).nlist
    with pytest.raises(ValueError, match="unknown index kind"):
        index_plan(10, "annoy")


def _clustered(n, d=96, clusters=40, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    v = centres[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, d))
    v = v.astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_ivfpq_searches_excludes_and_survives_reload_and_compaction(tmp_path):
    vectors, ids = _clustered(3000), [f"i{n}" for n in range(3000)]
    index = ItemIndex.build(ids, vectors, kind="ivfpq", nlist=32, nprobe=8)
    assert index.kind == "ivfpq" and index.nprobe == 8
    queries = vectors[:50]
    truth = [exact_top(vectors, ids, q, 10) for q in queries]
    found = [[i for i, _ in hits] for hits in index.search(queries, 10)]
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    assert recall >= 0.5  # lossy codes, but near neighbours (48 bytes a vector instead of 384)
    index.nprobe = 32
    found_wide = [[i for i, _ in hits] for hits in index.search(queries, 10)]
    assert np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found_wide, truth)]) >= recall  # nprobe buys recall
    excluded = found_wide[0][:3]
    assert not set(excluded) & {i for i, _ in index.search(queries[0], 10, exclude=excluded)[0]}
    index.remove(["i0"])
    index.save(tmp_path / "ix")
    loaded = ItemIndex.load(tmp_path / "ix")
    assert loaded.kind == "ivfpq" and loaded.nprobe == 32 and "i0" not in loaded
    assert loaded.search(queries[1], 10) == index.search(queries[1], 10)
    loaded.remove(ids[1:2000])  # more than half dead: compaction keeps the training
    assert len(loaded) == 1000 and loaded.index.ntotal == 1000 and loaded.index.is_trained
    assert {i for i, _ in loaded.search(vectors[2500], 5)[0]} <= set(ids[2000:])
    with pytest.raises(ValueError, match="at least"):
        ItemIndex.build(ids[:100], vectors[:100], kind="ivfpq", nlist=32)


def test_vectors_come_back_from_parquet_in_the_asked_order(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recommender.embed import vectors_from_parquet

    vectors, ids = unit_vectors(30), [f"i{n}" for n in range(30)]
    for part, rows in enumerate((slice(0, 10), slice(10, 30))):  # the embed job's list<float> column
        pq.write_table(pa.table({"id": ids[rows], "vector": [list(map(float, v)) for v in vectors[rows]]}),
                       tmp_path / f"part-{part}.parquet")
    wanted = ids[::-1]
    np.testing.assert_allclose(vectors_from_parquet(tmp_path, wanted), vectors[::-1], atol=1e-7)
    with pytest.raises(ValueError, match="no vector for 1"):
        vectors_from_parquet(tmp_path, ["i1", "missing"])


def test_bad_shapes_are_refused():
    index = ItemIndex(8)
    with pytest.raises(ValueError, match="shape"):
        index.add(["a"], np.zeros((1, 9), dtype=np.float32))
    with pytest.raises(ValueError, match="dimension"):
        index.search(np.zeros(9, dtype=np.float32), 1)


def test_graph_parameters_survive_compaction_and_reload(tmp_path):
    vectors, ids = unit_vectors(200), [f"i{n}" for n in range(200)]
    index = ItemIndex.build(ids, vectors, kind="hnsw", m=12, ef_construction=30)
    index.compact()
    assert index.index.hnsw.efConstruction == 30
    index.save(tmp_path / "ix")
    loaded = ItemIndex.load(tmp_path / "ix")
    assert (loaded.m, loaded.ef_construction) == (12, 30)
    loaded.remove(ids[:150])
    loaded.compact()  # a reloaded index is rebuilt with its own parameters, not the defaults
    assert len(loaded) == 50 and loaded.dead_slots == 0 and loaded.index.hnsw.efConstruction == 30


def test_chunked_add_under_a_progress_bar_finds_the_same_items(monkeypatch, capsys):
    import recommender.index as index_module

    monkeypatch.setattr(index_module, "ADD_CHUNK", 64)
    vectors, ids = unit_vectors(300), [f"i{n}" for n in range(300)]
    chunked = ItemIndex.build(ids, vectors, kind="flat", progress=True)
    assert "indexing (flat)" in capsys.readouterr().err
    whole = ItemIndex.build(ids, vectors, kind="flat")
    for q in vectors[::50]:
        assert chunked.search(q, 10) == whole.search(q, 10)
