"""Benchmark: annotating 10,000 artifacts with two features, then querying field + feature + label.

Run with ``python benchmarks/annotation.py``. Everything happens in a temporary folder.

Setup: 10,000 small files registered in place (one bulk ``flowtrail.save``); a label type
``Tissue`` with 10 labels; features ``batch: int`` and ``tissue: cat[Label[Tissue]]``.

Measured:

- floor: the same 20,000 value/label rows inserted with stdlib ``sqlite3.executemany`` in one
  transaction into an identically indexed table pair (no checks, no lookups). Ratios for the
  annotation numbers are against this floor.
- bulk: ``Artifact.features.add_values_many({artifact: {"batch": ..., "tissue": ...}})`` for all
  10,000 at once (every value checked against its dtype, labels resolved by name).
- one at a time: ``artifact.features.add_values({...})`` for 1,000 artifacts, one transaction each.
- query warm: ``Artifact.filter(key__startswith="scrna/", batch__gte=95, tissue="liver")`` ->
  ``to_list()``, ``count()`` and ``to_dataframe(include="features")``, and the same with the label
  through the ``labels`` relation (``labels__name="liver"``), median of 50 after a first run;
  the ratio is against a field-only query (``key__startswith``, ``size__gte``) returning a similar
  number of rows in the same process.
- query cold: a fresh Python process: (a) from before ``flowtrail.connect()`` to the answer, with
  the library imported (a new connection, ORM mappers configured on first use, empty feature
  catalog and statement caches), (b) importing flowtrail with SQLAlchemy and the models, (c) the
  whole process including interpreter start.

- wide table (issue 20): ``Artifact.filter().to_dataframe()`` of all 10,000 artifacts, and with
  ``include="features"``, against floors measured in alternating rounds: stdlib ``sqlite3`` reading
  the same columns in one query into ``pandas.DataFrame.from_records`` (indexed by id); with
  features, that plus one query per link table (values; labels joined to their names) pivoted
  into one column per feature with pandas. ``--table-only`` skips the other parts.

Goals (issue #8): <= 1 ms per annotated artifact in bulk, <= 5 ms per warm query, <= 50 ms cold.
Goals (issue 20): to_dataframe() <= 1.5x its floor, with features <= 2x.
LaminDB measured on this kind of machine (from the issue): 38 ms per annotated artifact,
5-12 ms warm, 275-510 ms cold. The script never fails on a missed goal.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_ARTIFACTS = 10_000
N_SINGLE = 1_000
TISSUES = ["liver", "lung", "heart", "brain", "kidney", "skin", "blood", "bone", "gut", "eye"]

for _variable in ("FLOWTRAIL_INSTANCE", "FLOWTRAIL_DB_URL", "FLOWTRAIL_STORAGE", "OPENLINEAGE_URL", "OPENLINEAGE_CONFIG"):
    os.environ.pop(_variable, None)

import flowtrail as ft  # noqa: E402


def values_for(i: int) -> dict[str, object]:
    return {"batch": i % 100, "tissue": TISSUES[(i // 100) % len(TISSUES)]}


def floor_insert(folder: Path) -> float:
    """Seconds for a bare executemany of the same rows into equally indexed tables."""
    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE v (id INTEGER PRIMARY KEY, artifact_id INT, feature_id INT, value_num REAL, value_str TEXT, value_json TEXT)")
    db.execute("CREATE INDEX v1 ON v (artifact_id, feature_id)")
    db.execute("CREATE INDEX v2 ON v (feature_id, value_num, artifact_id)")
    db.execute("CREATE INDEX v3 ON v (feature_id, value_str, artifact_id)")
    db.execute("CREATE TABLE l (id INTEGER PRIMARY KEY, artifact_id INT, label_id INT, feature_id INT)")
    db.execute("CREATE INDEX l1 ON l (artifact_id, feature_id)")
    db.execute("CREATE INDEX l2 ON l (label_id, artifact_id)")
    start = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO v (artifact_id, feature_id, value_num) VALUES (?, 1, ?)", [(i, i % 100) for i in range(N_ARTIFACTS)])
    db.executemany("INSERT INTO l (artifact_id, label_id, feature_id) VALUES (?, ?, 2)", [(i, i % 10) for i in range(N_ARTIFACTS)])
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def median_ms(action, repeats: int = 50) -> float:
    action()  # warm
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


COLD = """
import time, sys
t0 = time.perf_counter()
import flowtrail as ft
import flowtrail.core.models  # SQLAlchemy and the ORM models; import flowtrail alone defers them
t1 = time.perf_counter()
ft.connect(sys.argv[1])
rows = ft.Artifact.filter(key__startswith="scrna/", batch__gte=95, tissue="liver").to_list()
t2 = time.perf_counter()
print(len(rows), (t1 - t0) * 1000, (t2 - t1) * 1000)
"""


def wide_table(db_path: Path) -> None:
    """to_dataframe() of every artifact, with and without features, against one-query-per-table floors."""
    import pandas as pd
    from sqlalchemy import inspect as sa_inspect

    names = [c.key for c in sa_inspect(ft.Artifact).column_attrs]
    sql = f"SELECT {', '.join(chr(34) + n + chr(34) for n in names)} FROM artifact ORDER BY id"
    db = sqlite3.connect(db_path)

    def floor() -> pd.DataFrame:
        return pd.DataFrame.from_records(db.execute(sql).fetchall(), columns=names).set_index("id")

    def floor_features() -> pd.DataFrame:
        frame = floor()
        values = pd.DataFrame.from_records(
            db.execute("SELECT artifact_id, f.name, value_num, value_str FROM artifact_feature_value v "
                       "JOIN feature f ON f.id = v.feature_id").fetchall(),
            columns=["artifact_id", "feature", "num", "str"],
        )  # fmt: skip
        labels = pd.DataFrame.from_records(
            db.execute("SELECT l.artifact_id, f.name, label.name FROM artifact_label l JOIN label ON label.id = "
                       "l.label_id JOIN feature f ON f.id = l.feature_id").fetchall(),
            columns=["artifact_id", "feature", "value"],
        )  # fmt: skip
        values["value"] = values["num"].where(values["num"].notna(), values["str"])
        both = pd.concat([values[["artifact_id", "feature", "value"]], labels])
        return frame.join(both.pivot(index="artifact_id", columns="feature", values="value"))

    plan = [
        ("floor: sqlite3 + DataFrame", floor),
        ("Artifact.filter().to_dataframe()", lambda: ft.Artifact.filter().to_dataframe()),
        ("floor with features: 3 queries + pivot", floor_features),
        ("to_dataframe(include='features')", lambda: ft.Artifact.filter().to_dataframe(include="features")),
    ]
    plain, with_features = plan[1][1](), plan[3][1]()
    reference = floor_features()
    assert len(plain) == len(reference) == N_ARTIFACTS and list(plain.index) == list(reference.index)
    assert with_features["batch"].tolist() == reference["batch"].astype(int).tolist(), "feature values differ"
    assert with_features["tissue"].astype(str).tolist() == reference["tissue"].tolist(), "label values differ"
    times: dict[str, list[float]] = {name: [] for name, _ in plan}
    for _round in range(7):  # alternating, so a change in load hits floors and flowtrail alike
        for name, action in plan:
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(values) * 1000 for name, values in times.items()}
    ratio = med[plan[1][0]] / med[plan[0][0]]
    ratio_features = med[plan[3][0]] / med[plan[2][0]]
    print(f"\nwide table: all {N_ARTIFACTS} artifacts (2 features), median of 7 alternating rounds (ms)")
    for name, _ in plan:
        print(f"  {name:<40} {med[name]:8.1f}")
    print(f"  to_dataframe() / floor                   {ratio:8.2f}x  (goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})")
    print(f"  with features / floor with features      {ratio_features:8.2f}x  "
          f"(goal <= 2x: {'met' if ratio_features <= 2 else 'NOT met'})")  # fmt: skip
    db.close()


def main() -> None:
    table_only = "--table-only" in sys.argv[1:]
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "registry"
        data = root / "data"
        data.mkdir(parents=True)
        ft.init(root)
        paths = []
        for i in range(N_ARTIFACTS):
            path = data / f"{i}.txt"
            path.write_text(f"artifact {i}\n")
            paths.append(path)
        artifacts = ft.save([ft.Artifact(p, key=f"{'scrna' if i % 2 == 0 else 'bulk'}/{i}.txt") for i, p in enumerate(paths)])
        tissue = ft.Label(name="Tissue", is_type=True).save()
        for name in TISSUES:
            ft.Label(name=name, type=tissue).save()
        ft.Feature(name="batch", dtype=int).save()
        ft.Feature(name="tissue", dtype=tissue).save()

        floor = floor_insert(Path(tmp))
        start = time.perf_counter()
        ft.Artifact.features.add_values_many({a: values_for(i) for i, a in enumerate(artifacts)})
        bulk = time.perf_counter() - start
        if table_only:
            wide_table(root / ".flowtrail" / "registry.db")
            print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
            return
        start = time.perf_counter()
        for i, artifact in enumerate(artifacts[:N_SINGLE]):
            artifact.features.add_values(values_for(i + 1))
        single = time.perf_counter() - start
        ft.Artifact.features.add_values_many({a: values_for(i) for i, a in enumerate(artifacts[:N_SINGLE])})

        per = lambda seconds, n: seconds * 1000 / n  # noqa: E731
        print(f"\nannotate {N_ARTIFACTS} artifacts with 2 features (ms per artifact)")
        print(f"  floor (bare sqlite3 executemany)   {per(floor, N_ARTIFACTS):7.3f}")
        print(f"  flowtrail bulk                     {per(bulk, N_ARTIFACTS):7.3f}  ({bulk / floor:.1f}x floor; goal <= 1 ms: {'met' if per(bulk, N_ARTIFACTS) <= 1 else 'NOT met'})")
        print(f"  flowtrail one at a time ({N_SINGLE})     {per(single, N_SINGLE):7.3f}  ({per(single, N_SINGLE) / per(floor, N_ARTIFACTS):.0f}x floor)")

        query = lambda: ft.Artifact.filter(key__startswith="scrna/", batch__gte=95, tissue="liver")  # noqa: E731
        expected = sum(1 for i in range(N_ARTIFACTS) if i % 2 == 0 and i % 100 >= 95 and values_for(i)["tissue"] == "liver")
        assert len(query().to_list()) == expected, "the query returned a wrong answer"
        baseline_query = lambda: ft.Artifact.filter(key__startswith="scrna/", size__gte=0)[:expected].to_list()  # noqa: E731
        base = median_ms(baseline_query)
        listed = median_ms(lambda: query().to_list())
        counted = median_ms(lambda: query().count())
        framed = median_ms(lambda: query().to_dataframe(include="features"))
        by_label = lambda: ft.Artifact.filter(key__startswith="scrna/", batch__gte=95, labels__name="liver")  # noqa: E731
        assert by_label().count() == expected
        labelled = median_ms(lambda: by_label().to_list())
        print(f"\nquery field + feature + label over {N_ARTIFACTS} annotated artifacts ({expected} rows), warm, median ms")
        print(f"  baseline: field-only query, {expected} rows  {base:7.2f}")
        print(f"  .to_list()                         {listed:7.2f}  ({listed / base:.1f}x baseline; goal <= 5 ms: {'met' if listed <= 5 else 'NOT met'})")
        print(f"  .count()                           {counted:7.2f}")
        print(f"  .to_dataframe(include='features')  {framed:7.2f}")
        print(f"  labels__name= instead of the feature {labelled:5.2f}")

        colds = []
        for _ in range(5):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", COLD, str(root)], capture_output=True, text=True, check=True)
            whole = (time.perf_counter() - start) * 1000
            rows, imported, answered = out.stdout.split()
            assert int(rows) == expected
            colds.append((float(answered), float(imported), whole))
        answered = statistics.median(c[0] for c in colds)
        print("\nquery cold, fresh process, median of 5 (ms)")
        print(f"  connect + first query (library imported) {answered:7.1f}  (goal <= 50 ms: {'met' if answered <= 50 else 'NOT met'})")
        print(f"  import flowtrail + SQLAlchemy ORM models {statistics.median(c[1] for c in colds):7.1f}")
        print(f"  whole process incl. interpreter          {statistics.median(c[2] for c in colds):7.1f}")
        wide_table(root / ".flowtrail" / "registry.db")
        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
