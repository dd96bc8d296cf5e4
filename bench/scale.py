"""Past one machine: batch scoring and embedding on Spark, data-parallel fine-tuning, a
million-item catalogue. Writes bench/results/scale.json.

    python -m bench.scale [--parts finetune,score,embed,faiss] [--sizes 100000,300000,1000000]
                          [--embed-sizes 1000000] [--faiss-n 1000000] [--threads 2]

- ``finetune``: PhraseBank, ``nlpsuite finetune`` as one process with ``--threads 2`` against
  ``--nproc 2`` with one thread each (torchrun, gloo), same seed, epochs and global batch;
  both runs' examples/s and validation macro-F1 (``finetune_ddp``). The one-process model's
  int8 export is the scoring model (unless bench-core's ``bench/work/phrasebank-int8`` exists).
- ``score`` / ``embed``: ``nlpsuite batch score|embed`` over seeded synthetic headlines
  (``bench.headlines``) on each engine side by side: in-process (one process, ``--threads``
  intra-op threads), Spark ``local[N]`` and a standalone master + worker on 127.0.0.1 (one
  worker, N cores), one intra-op thread per Spark task. Each run is the real command in its
  own process; its peak memory is sampled from /proc: the process itself in-process, the
  Spark JVM and its Python workers in local mode, the executor JVM and its Python workers on
  the standalone cluster (per executor).
- ``faiss``: a million-item catalogue with the structure of real text embeddings (see
  ``structured_vectors``), through the index path of ``recommender fit --engine spark``
  (vectors from Parquet, ``ItemIndex.build`` with the size-chosen index); recall@10 against
  exact search and the single-query latency at 1 thread, build time at ``--threads``.

Every figure says its threads and executors. The whole thing at the default sizes takes
hours on two cores (1M headlines are ~30 min per engine and job); ``--sizes`` scales it down.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT, WORK, update_results
from bench.headlines import SEED as HEADLINE_SEED
from bench.headlines import write as write_headlines

logger = logging.getLogger("bench.scale")
SCALE = WORK / "scale"
ENGINES = ("inprocess", "spark-local", "spark-standalone")
TARGET_SPARK_RATIO = 0.85
TARGET_LINEARITY = 11.0  # time at 10x the rows, at most
FAISS_RECALL_TARGET, FAISS_P50_TARGET_MS, FAISS_BUILD_TARGET_S = 0.95, 2.0, 900
STRUCTURE_SEED, STRUCTURE_CLUSTERS, STRUCTURE_RANK = 7, 256, 16
FAISS_QUERIES = 1000
# The fine-tuning comparison: the "quick" PhraseBank profile of `nlpsuite run` (two epochs).
FINETUNE_FLAGS = ["--epochs", "2", "--learning-rate", "6e-5", "--batch-size", "16", "--max-length", "80",
                  "--early-stopping-patience", "1"]


# -- memory of a process tree, from /proc ------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(root: int, tree: dict[int, list[int]]) -> list[int]:
    out, stack = [], list(tree.get(root, []))
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(tree.get(pid, []))
    return out


class PeakMemory:
    """Samples, every ``interval`` seconds, the summed RSS of what ``pids()`` returns."""

    def __init__(self, pids, interval: float = 0.5):
        self.pids, self.interval, self.peak_mb = pids, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, sum(_rss_mb(pid) for pid in self.pids()))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _cli(*args: str, env: dict | None = None, memory_of=None) -> tuple[dict, float]:
    """Run ``python -m shared.app.cli args``; its last JSON line and the peak MB that
    ``memory_of(pid)`` (pids to sum, given the command's pid) reached."""
    command = [sys.executable, "-m", "shared.app.cli", *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    with PeakMemory(lambda: memory_of(process.pid) if memory_of else [process.pid]) as peak:
        stdout, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode})")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]), round(peak.peak_mb, 1)


# -- fine-tuning: torchrun against threads -----------------------------------------------------
def _phrasebank_files() -> dict[str, Path]:
    import pandas as pd

    from finsentiment.phrasebank import load_phrasebank

    folder = SCALE / "phrasebank"
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, data in load_phrasebank().items():
        files[name] = folder / f"{name}.csv"
        pd.DataFrame({"text": data.texts, "label": data.labels}).to_csv(files[name], index=False)
    return files


def _finetune_once(files: dict[str, Path], name: str, flags: list[str], seed: int, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    summary, peak = _cli("finetune", "--data", str(files["train"]), "--validation", str(files["validation"]),
                         "--test", str(files["test"]), "--out", str(out), "--no-progress", *FINETUNE_FLAGS,
                         "--seed", str(seed), *flags,
                         memory_of=lambda pid: [pid, *_descendants(pid, _children())])
    metrics = json.loads((out / "metrics.json").read_text())
    run = {"seed": seed, "processes": summary["processes"],
           "threads_per_process": int(flags[flags.index("--threads") + 1]),
           "examples_per_s": summary["train_examples_per_s"], "train_seconds": summary["train_seconds"],
           "wall_seconds": round(time.perf_counter() - started, 1),
           "validation_macro_f1": round(metrics["validation"]["macro_f1"], 4),
           "test_macro_f1": round(metrics["macro_f1"], 4), "peak_rss_mb": peak}
    logger.info("finetune %s seed %d: %s", name, seed, run)
    return run


def bench_finetune(threads: int, seeds: list[int]) -> dict:
    """Both set-ups on each seed. One seed's gap mixes the engine with chance: each process
    draws its own dropout masks, so the two runs differ as two seeds do, and the comparison
    that says something is the gap of the means next to the spread across seeds."""
    files = _phrasebank_files()
    configs = ((f"1x{threads}_threads", ["--threads", str(threads)]),
               (f"{threads}x1_thread_torchrun", ["--nproc", str(threads), "--threads", "1"]))
    by_seed: dict[str, list[dict]] = {name: [] for name, _ in configs}
    for position, seed in enumerate(seeds):
        for name, flags in configs:
            out = SCALE / (f"finetune-{name}" if position == 0 else f"finetune-{name}-seed{seed}")
            by_seed[name].append(_finetune_once(files, name, flags, seed, out))
            if position:
                shutil.rmtree(out, ignore_errors=True)  # the first seed's folders are kept (the scoring model)
    (single_name, _), (ddp_name, _) = configs
    first = {name: runs[0] for name, runs in by_seed.items()}

    def mean(name: str, key: str) -> float:
        return float(np.mean([r[key] for r in by_seed[name]]))

    result = {"data": "Financial PhraseBank (50% agree), committed split",
              "flags": " ".join(FINETUNE_FLAGS), "seeds": seeds,
              "runs": first, "by_seed": by_seed,
              "throughput_ratio_ddp_over_threads": round(mean(ddp_name, "examples_per_s")
                                                         / mean(single_name, "examples_per_s"), 3),
              "validation_macro_f1_gap_points": round(100 * abs(first[ddp_name]["validation_macro_f1"]
                                                             - first[single_name]["validation_macro_f1"]), 2),
              "mean_validation_macro_f1": {name: round(mean(name, "validation_macro_f1"), 4) for name in by_seed},
              "mean_examples_per_s": {name: round(mean(name, "examples_per_s"), 2) for name in by_seed},
              "mean_gap_points": round(100 * abs(mean(ddp_name, "validation_macro_f1")
                                                 - mean(single_name, "validation_macro_f1")), 2),
              "target_gap_points_max": 0.5}
    if len(seeds) > 1:
        result["seed_sd_points"] = {name: round(100 * float(np.std([r["validation_macro_f1"] for r in runs], ddof=1)), 2)
                                    for name, runs in by_seed.items()}
    update_results("scale", {"finetune_ddp": result})
    return result


def scoring_model(threads: int) -> Path:
    deployed = WORK / "phrasebank-int8"
    if (deployed / "nlpsuite.json").is_file():
        return deployed
    exported = SCALE / "phrasebank-int8"
    if not (exported / "nlpsuite.json").is_file():
        from shared.export import export_onnx

        trained = SCALE / f"finetune-1x{threads}_threads"
        if not (trained / "metrics.json").is_file():
            raise SystemExit("no PhraseBank model to score with: run the part 'finetune' (or bench-core) first")
        export_onnx(trained, exported, int8=True)
    return exported


# -- batch jobs on three engines ---------------------------------------------------------------
def _pid_file_pid(folder: Path, pattern: str) -> int | None:
    for path in (folder / "pids").glob(pattern):
        return int(path.read_text().strip())
    return None


def bench_batch(job: str, sizes: list[int], threads: int, cluster_folder: Path) -> list[dict]:
    from shared.batch.cluster import LocalCluster

    model = str(scoring_model(threads)) if job == "score" else "minilm-l6"
    runs = []
    cluster = LocalCluster(cluster_folder, cores=threads, memory="4g").start()
    worker_pid = _pid_file_pid(cluster_folder, "*Worker*.pid")
    try:
        for rows in sizes:
            source = write_headlines(rows, WORK / f"headlines-{rows}")
            for engine in ENGINES:
                master = {"inprocess": "inprocess", "spark-local": f"local[{threads}]"}.get(engine, cluster.url)
                per_task = threads if engine == "inprocess" else 1
                if engine == "spark-standalone":
                    memory_of = lambda pid: _descendants(worker_pid, _children())  # noqa: E731 (the executor)
                elif engine == "spark-local":
                    memory_of = lambda pid: _descendants(pid, _children())  # noqa: E731 (JVM + Python workers)
                else:
                    memory_of = None
                out = SCALE / f"{job}-{engine}-{rows}"
                summary, peak = _cli("batch", job, "--model", model, "--input", str(source), "--text-col", "text",
                                     "--id-col", "id", "--output", str(out), "--master", master,
                                     "--threads", str(per_task), "--overwrite", "--no-progress",
                                     env={"SPARK_LOCAL_IP": "127.0.0.1"}, memory_of=memory_of)
                if summary["rows_out"] + summary["rows_rejected"] != summary["rows_in"] or summary["rows_in"] != rows:
                    raise SystemExit(f"{job} on {engine}: rows do not add up: {summary}")
                run = {"engine": engine, "job": job, "rows": rows, "seconds": summary["seconds"],
                       "rows_per_s": summary["rows_per_s"],
                       "threads": threads, "threads_per_task": per_task,
                       "executors": summary.get("executors", 0), "partitions": summary.get("partitions"),
                       "peak_rss_mb": peak, "rows_rejected": summary["rows_rejected"]}
                runs.append(run)
                logger.info("%s", run)
                shutil.rmtree(out, ignore_errors=True)
    finally:
        cluster.stop()
    return runs


def _summarise(runs: list[dict], job: str) -> dict:
    mine = [r for r in runs if r["job"] == job]
    sizes = {r["rows"] for r in mine if all(any(m["engine"] == e and m["rows"] == r["rows"] for m in mine)
                                            for e in ENGINES)}
    mine = [r for r in mine if r["rows"] in sizes]  # sizes measured on every engine
    if not mine:
        return {}
    largest, smallest = max(r["rows"] for r in mine), min(r["rows"] for r in mine)
    at = {(r["engine"], r["rows"]): r for r in mine}
    inprocess = at[("inprocess", largest)]["rows_per_s"]
    best_spark = max(at[(e, largest)]["rows_per_s"] for e in ENGINES[1:])
    out = {"largest_rows": largest, "spark_vs_inprocess": round(best_spark / inprocess, 3),
           "best_spark": max(ENGINES[1:], key=lambda e: at[(e, largest)]["rows_per_s"])}
    if largest > smallest:
        out["smallest_rows"] = smallest
        out["time_ratio_largest_over_smallest"] = {
            engine: round(at[(engine, largest)]["seconds"] / at[(engine, smallest)]["seconds"], 2)
            for engine in ENGINES}
        out["rows_ratio"] = round(largest / smallest, 2)
    if len(sizes) >= 2 and largest < 1_000_000:
        out["fit"] = _fixed_and_marginal(mine)
        fit = out["fit"]
        projected = {engine: 1_000_000 / (fit[engine]["fixed_seconds"] + 1_000_000 / fit[engine]["marginal_rows_per_s"])
                     for engine in ENGINES}
        out["projected_spark_vs_inprocess_1m"] = round(max(projected[e] for e in ENGINES[1:])
                                                       / projected["inprocess"], 3)
    return out


def _fixed_and_marginal(runs: list[dict]) -> dict:
    """Per engine, a least-squares line seconds = fixed + rows / marginal rate over the sizes
    measured: the start-up cost (Spark's JVM, session, workers loading the model) apart from
    the per-row rate, which is what a run at 1M rows mostly consists of."""
    fit = {}
    for engine in ENGINES:
        points = sorted((r["rows"], r["seconds"]) for r in runs if r["engine"] == engine)
        rows, seconds = np.array(points, dtype=float).T
        slope, intercept = np.polyfit(rows, seconds, 1)
        fit[engine] = {"fixed_seconds": round(float(intercept), 1), "marginal_rows_per_s": round(float(1 / slope), 1)}
    return fit


# -- a million items with the structure of text embeddings ------------------------------------
def repo_texts() -> list[str]:
    """Every text in data/: BANKING77, PhraseBank, the chatbot FAQ, the feed stories, the films."""
    import pandas as pd

    texts: list[str] = []
    for path, column in ((ROOT / "data/banking77/train.csv", "text"), (ROOT / "data/banking77/test.csv", "text"),
                         (ROOT / "data/financial_phrasebank/sentences_50agree.csv", "content"),
                         (ROOT / "data/feeds/story.csv", None), (ROOT / "data/chatbot/faq.csv", None),
                         (ROOT / "data/recommender/new_arrivals.csv", None)):
        frame = pd.read_csv(path)
        columns = [column] if column else [c for c in frame.columns if frame[c].dtype == object]
        for name in columns:
            texts += [t for t in frame[name].dropna().astype(str) if len(t.split()) >= 3]
    from recommender.movielens import load_movielens100k

    items, _ = load_movielens100k()
    texts += [item.text for item in items]
    return sorted(set(texts))


def structured_vectors(real: np.ndarray, n: int, *, clusters: int = STRUCTURE_CLUSTERS,
                       rank: int = STRUCTURE_RANK, seed: int = STRUCTURE_SEED) -> np.ndarray:
    """``n`` unit vectors from a mixture of low-rank Gaussians fitted to ``real``: k-means into
    ``clusters``; per cluster its centroid, its top ``rank`` principal directions scaled by
    their spread, and an isotropic residual with the variance the directions leave; clusters
    drawn in proportion to their size; renormalised. Not noise around real points (that makes
    near-duplicate ties, and recall then measures tie-breaking)."""
    import faiss

    rng = np.random.default_rng(seed)
    d = real.shape[1]
    kmeans = faiss.Kmeans(d, clusters, niter=25, seed=seed, spherical=True)
    kmeans.train(real)
    _, assign = kmeans.index.search(real, 1)
    assign = assign.ravel()
    sizes = np.bincount(assign, minlength=clusters).astype(np.float64)
    counts = rng.multinomial(n, sizes / sizes.sum())
    out = np.empty((n, d), dtype=np.float32)
    at = 0
    for c in range(clusters):
        members = real[assign == c]
        if counts[c] == 0 or len(members) == 0:
            continue
        center = members.mean(axis=0)
        centred = members - center
        if len(members) > 1:
            _, singular, directions = np.linalg.svd(centred, full_matrices=False)
            variances = singular ** 2 / (len(members) - 1)
        else:
            directions, variances = np.zeros((0, d)), np.zeros(0)
        r = min(rank, len(variances))
        total = float(centred.var(axis=0).sum()) if len(members) > 1 else 1e-4
        residual = max(total - float(variances[:r].sum()), 1e-6) / d
        z = rng.standard_normal((counts[c], r)) * np.sqrt(variances[:r])
        block = center + z @ directions[:r] + rng.standard_normal((counts[c], d)) * np.sqrt(residual)
        out[at:at + counts[c]] = block
        at += counts[c]
    out = out[rng.permutation(n)]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _neighbour_cosines(base: np.ndarray, queries: np.ndarray, skip_self: bool) -> dict:
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    scores, _ = index.search(queries, 11 if skip_self else 10)
    if skip_self:
        scores = scores[:, 1:]
    return {"mean_cos_1st": round(float(scores[:, 0].mean()), 4), "mean_cos_10th": round(float(scores[:, 9].mean()), 4)}


def bench_faiss(n: int, threads: int) -> dict:
    import faiss
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recommender.embed import vectors_from_parquet
    from recommender.index import ItemIndex, index_plan
    from shared.embeddings import Embedder

    faiss.omp_set_num_threads(threads)
    texts = repo_texts()
    cache = SCALE / f"real-vectors-{len(texts)}.npy"
    if cache.is_file():
        real = np.load(cache)
    else:
        real = Embedder("minilm-l6", threads=threads).encode(texts, progress=True).astype(np.float32)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, real)
    rng = np.random.default_rng(STRUCTURE_SEED)
    sample = rng.choice(len(real), size=min(FAISS_QUERIES, len(real)), replace=False)
    likeness = {"real": {"n": len(real), **_neighbour_cosines(real, real[sample], skip_self=True)}}
    started = time.perf_counter()
    vectors = structured_vectors(real, n + FAISS_QUERIES)
    generate_s = time.perf_counter() - started
    queries, vectors = vectors[:FAISS_QUERIES], vectors[FAISS_QUERIES:]
    same_size = vectors[:len(real)]
    likeness["synthetic_same_n"] = {"n": len(same_size), **_neighbour_cosines(same_size, queries, skip_self=False)}

    # The fit's index path: vectors as the Spark embed job writes them (Parquet, id + vector).
    folder = SCALE / f"vectors-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ids = [f"item{i:07d}" for i in range(n)]
    for part, begin in enumerate(range(0, n, 100_000)):
        block = vectors[begin:begin + 100_000]
        table = pa.table({"id": ids[begin:begin + 100_000],
                          "vector": pa.FixedSizeListArray.from_arrays(pa.array(block.ravel()), block.shape[1])})
        pq.write_table(table, folder / f"part-{part:05d}.parquet")
    started = time.perf_counter()
    loaded = vectors_from_parquet(folder, ids)
    read_s = time.perf_counter() - started
    assert np.array_equal(loaded, vectors)
    del loaded
    rss_before = _rss_mb(os.getpid())
    plan = index_plan(n)
    started = time.perf_counter()
    index = ItemIndex.build(ids, vectors, kind="auto", progress=True)
    build_s = time.perf_counter() - started
    index_mb = round(_rss_mb(os.getpid()) - rss_before, 1)

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    del exact
    likeness["synthetic"] = {"n": n, **_neighbour_cosines_from(truth, vectors, queries)}
    faiss.omp_set_num_threads(1)
    sweep = []
    for ef in sorted({64, 128, 256, 384, 512, plan.ef_search}):
        index.ef_search = ef
        found = [[int(index.slot_of[item]) for item, _ in hits] for hits in index.search(queries, 10)]
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
        times = []
        for q in queries:
            start = time.perf_counter()
            index.search(q[None, :], 10)
            times.append((time.perf_counter() - start) * 1000)
        sweep.append({"ef_search": ef, "recall_at_10": round(recall, 4),
                      "p50_ms": round(float(np.percentile(times, 50)), 3),
                      "p95_ms": round(float(np.percentile(times, 95)), 3)})
        logger.info("efSearch %d: %s", ef, sweep[-1])
    chosen = next(s for s in sweep if s["ef_search"] == plan.ef_search)
    result = {"n": n, "dimension": int(vectors.shape[1]), "index": plan.describe(),
              "recall_at_10": chosen["recall_at_10"], "p50_ms": chosen["p50_ms"], "p95_ms": chosen["p95_ms"],
              "ef_search": plan.ef_search, "search_threads": 1,
              "build_seconds": round(build_s, 1), "build_threads": threads,
              "index_memory_mb": index_mb, "vector_bytes_mb": round(vectors.nbytes / 2 ** 20, 1),
              "parquet_read_seconds": round(read_s, 1), "generate_seconds": round(generate_s, 1),
              "queries": len(queries), "sweep": sweep, "likeness": likeness,
              "structure": {"source_texts": len(real), "clusters": STRUCTURE_CLUSTERS, "rank": STRUCTURE_RANK,
                            "seed": STRUCTURE_SEED, "encoder": "minilm-l6"},
              "targets": {"recall_at_10_min": FAISS_RECALL_TARGET, "p50_ms_max": FAISS_P50_TARGET_MS,
                          "build_seconds_max": FAISS_BUILD_TARGET_S}}
    shutil.rmtree(folder, ignore_errors=True)
    update_results("scale", {"faiss_1m_structured" if n == 1_000_000 else f"faiss_{n}_structured": result})
    return result


def _neighbour_cosines_from(truth: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> dict:
    first = np.einsum("ij,ij->i", queries, vectors[truth[:, 0]])
    tenth = np.einsum("ij,ij->i", queries, vectors[truth[:, 9]])
    return {"mean_cos_1st": round(float(first.mean()), 4), "mean_cos_10th": round(float(tenth.mean()), 4)}


def batch_section(new_runs: list[dict]) -> dict:
    """``runs`` (every batch run, this call's replacing earlier ones of the same engine, job
    and size) and the figures over them."""
    path = ROOT / "bench/results/scale.json"
    earlier = json.loads(path.read_text()).get("runs", []) if path.is_file() else []
    key = lambda r: (r["engine"], r["job"], r["rows"])  # noqa: E731
    fresh = {key(r) for r in new_runs}
    runs = sorted([r for r in earlier if key(r) not in fresh] + new_runs, key=lambda r: (r["job"], r["rows"], r["engine"]))
    section: dict = {"runs": runs, "headlines": {"generator": "bench/headlines.py", "seed": HEADLINE_SEED},
                     "targets": {"spark_vs_inprocess_min": TARGET_SPARK_RATIO,
                                 "time_ratio_10x_max": TARGET_LINEARITY}}
    for job in sorted({r["job"] for r in runs}):
        section[job] = _summarise(runs, job)
    if any(r["job"] == "score" and r["rows"] == 1_000_000 for r in runs):
        section["spark_vs_inprocess_1m"] = section["score"]["spark_vs_inprocess"]
    return section


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="finetune,score,embed,faiss")
    parser.add_argument("--sizes", default="100000,300000,1000000", help="headline counts for score")
    parser.add_argument("--embed-sizes", default="1000000", help="headline counts for embed")
    parser.add_argument("--faiss-n", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--finetune-seeds", default="42,43,44",
                        help="seeds for the fine-tuning comparison (the first one's model scores)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parts = options.parts.split(",")
    if "finetune" in parts:
        bench_finetune(options.threads, [int(s) for s in options.finetune_seeds.split(",")])
    batch_runs: list[dict] = []
    for job, sizes in (("score", options.sizes), ("embed", options.embed_sizes)):
        if job in parts:
            batch_runs += bench_batch(job, [int(s) for s in sizes.split(",")], options.threads,
                                      SCALE / f"cluster-{job}")
    if batch_runs:
        update_results("scale", batch_section(batch_runs))
    if "faiss" in parts:
        bench_faiss(options.faiss_n, options.threads)
    print(json.dumps(json.loads((ROOT / "bench/results/scale.json").read_text()), indent=2)[:4000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
