"""to_dataframe() reads raw rows into typed columns: the same frame SQLAlchemy rows would give.

Each frame is compared with one built the slow way (ORM rows per record, ``values_of`` per
artifact) on SQLite and PostgreSQL, with missing values, several values per feature and every dtype.
"""

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import inspect as sa_inspect

import flowtrail as ft
from flowtrail.core.annotations.values import values_of
from flowtrail.core.runs.tracking import finish_run, start_run


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


@pytest.fixture
def annotated(any_instance, tmp_path):
    tissue = ft.Label(name="Tissue", is_type=True).save()
    for name in ("liver", "lung", "heart"):
        ft.Label(name=name, type=tissue).save()
    dtypes = {"batch": int, "gc": float, "passed": bool, "donor": str, "day": dt.date, "seen": dt.datetime,
              "qc": dict, "tissue": tissue}  # fmt: skip
    for name, dtype in dtypes.items():
        ft.Feature(name=name, dtype=dtype).save()
    run = start_run("make.py", params={"n": 7})
    made = []
    for i in range(12):
        path = tmp_path / f"{i}.txt"
        path.write_text(str(i))
        made.append(ft.Artifact(path, key=f"f/{i}.txt", run=run if i % 2 else None).save())
    finish_run(run, "completed")
    values = {}
    for i, artifact in enumerate(made):
        row = {
            "batch": i, "gc": i / 7, "passed": i % 3 == 0, "donor": f"d{i % 4}", "day": dt.date(2025, 1, 1 + i),
            "seen": dt.datetime(2025, 2, 1, 8, i, tzinfo=dt.UTC), "qc": {"reads": i, "ok": [i, i + 1]},
            "tissue": ["liver", "heart"] if i == 6 else "lung",
        }  # fmt: skip
        values[artifact] = {k: v for j, (k, v) in enumerate(row.items()) if (i + j) % 4 != 0}  # leave some unset
    values[made[3]]["batch"] = [1, 2]  # two values of one feature
    ft.Artifact.features.add_values_many(values)
    return made


def slow_frame(query):
    """The frame as built from SQLAlchemy rows, the way to_dataframe() used to."""
    model = query.model
    names = [c.key for c in sa_inspect(model).column_attrs if c.key not in getattr(model, "_dataframe_hidden", ())]
    session = query.instance.sessions.current()
    rows = session.execute(query.statement().with_only_columns(*[getattr(model, n) for n in names])).all()
    query.instance.sessions.end_read()
    return pd.DataFrame.from_records(rows, columns=names).set_index("id")


def missing(value):
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


@pytest.mark.parametrize("lookups", [{}, {"key__startswith": "f/1"}, {"batch__gte": 4}])
def test_field_columns_equal_those_from_orm_rows(annotated, lookups):
    for model in (ft.Artifact, ft.Run, ft.Label, ft.Feature, ft.Transform):
        query = model.filter(**lookups) if model is ft.Artifact else model.filter()
        pd.testing.assert_frame_equal(query.to_dataframe(), slow_frame(query))


@pytest.mark.parametrize("lookups", [{}, {"key__startswith": "f/1"}, {"passed": True}])
def test_feature_columns_hold_each_artifacts_values(annotated, lookups):
    query = ft.Artifact.filter(**lookups)
    frame = query.to_dataframe(include="features")
    expected = values_of([int(i) for i in frame.index])
    features = sorted({name for per in expected.values() for name in per})
    assert list(frame.columns) == [*slow_frame(query).columns, *features]
    for artifact_id in frame.index:
        for name in features:
            cell, want = frame.at[artifact_id, name], expected.get(artifact_id, {}).get(name)
            if want is None:
                assert missing(cell), (artifact_id, name, cell)
            elif isinstance(cell, pd.Timestamp):
                assert cell.to_pydatetime() == want
            else:
                assert cell == want, (artifact_id, name, cell, want)


def test_each_feature_column_has_the_dtype_of_its_values(annotated):
    frame = ft.Artifact.filter(key__in=[f"f/{i}.txt" for i in (0, 1, 2, 4, 7, 8)]).to_dataframe(include="features")
    dtypes = {name: str(frame[name].dtype) for name in ("batch", "gc", "passed", "seen", "tissue", "donor", "day")}
    # pandas 2 keeps datetimes in ns, pandas 3 in the unit of the values (us here): both are UTC datetimes.
    assert dtypes.pop("seen") in ("datetime64[ns, UTC]", "datetime64[us, UTC]")
    assert dtypes == {"batch": "Int64", "gc": "float64", "passed": "boolean",
                      "tissue": "category", "donor": "object", "day": "object"}  # fmt: skip
    listed = ft.Artifact.filter().to_dataframe(include=["batch", "tissue"])
    assert listed["batch"].dtype == object and sorted(listed.loc[annotated[3].id, "batch"]) == [1, 2]
    assert listed.loc[annotated[6].id, "tissue"] == ["liver", "heart"]
