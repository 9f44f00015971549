"""DataFrameCurator: every problem in one error, synonyms standardised, curated artifacts annotated."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flowtrail.core.curation import DataFrameCurator
from flowtrail.core.errors import FieldError, ValidationError
from flowtrail.core.models import Artifact, Feature, Label, Schema


@pytest.fixture
def cell_medium(instance) -> Label:
    medium = Label(name="CellMedium", is_type=True).save()
    Label(name="DMSO", type=medium, synonyms=["dimethyl sulfoxide"]).save()
    Label(name="IFNG", type=medium, synonyms=["interferon gamma"], ontology_id="EFO:0000001").save()
    return medium


@pytest.fixture
def schema(cell_medium) -> Schema:
    return Schema(
        name="perturbation screen",
        features=[
            Feature(name="ENSG00000153563", dtype=int),
            Feature(name="ENSG00000010610", dtype=int),
            Feature(name="cell_medium", dtype=cell_medium),
        ],
    ).save()


def _screen(**columns) -> pd.DataFrame:
    data = {
        "ENSG00000153563": [1, 2, 3],
        "ENSG00000010610": [4, 5, 6],
        "cell_medium": pd.Categorical(["DMSO", "IFNG", "DMSO"]),
        "sample_note": ["a", "b", "c"],
    }
    data.update(columns)
    return pd.DataFrame({k: v for k, v in data.items() if v is not None})


def _problems(curator) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        curator.validate()
    return caught.value.problems


def test_a_fitting_dataframe_validates(schema):
    assert DataFrameCurator(_screen(), schema).validate() is None
    # labels as plain strings work too, and missing values are allowed
    assert DataFrameCurator(_screen(cell_medium=["DMSO", None, "IFNG"]), schema).validate() is None


def test_missing_columns_are_listed_unless_minimal_set_is_off(schema, cell_medium):
    df = _screen(ENSG00000010610=None, cell_medium=None)
    assert _problems(DataFrameCurator(df, schema)) == [
        "ENSG00000010610: column is missing (the schema requires it)",
        "cell_medium: column is missing (the schema requires it)",
    ]
    lenient = Schema(features=schema.features, minimal_set=False).save()
    assert DataFrameCurator(df, lenient).validate() is None


def test_unexpected_columns_fail_only_with_maximal_set(schema):
    assert DataFrameCurator(_screen(), schema).validate() is None  # sample_note is ignored
    strict = Schema(features=schema.features, maximal_set=True).save()
    assert _problems(DataFrameCurator(_screen(), strict)) == [
        "unexpected column 'sample_note': the schema allows only its own features (maximal_set=True)"
    ]


def test_ordered_set_wants_the_schema_column_order(schema):
    ordered = Schema(features=schema.features, ordered_set=True).save()
    df = _screen()[["cell_medium", "ENSG00000153563", "ENSG00000010610"]]
    problems = _problems(DataFrameCurator(df, ordered))
    assert problems == ["columns are out of order: the schema wants ENSG00000153563, ENSG00000010610, cell_medium"]
    assert DataFrameCurator(df[["ENSG00000153563", "ENSG00000010610", "cell_medium"]], ordered).validate() is None


@pytest.mark.parametrize(
    ("dtype", "good", "bad"),
    [
        (int, [1, 2], [1.5, 2.0]),
        (int, pd.array([1, None], dtype="Int64"), [True, False]),
        (float, [0.5, 1.0], ["0.5", "1.0"]),
        (float, [1, 2], [True, False]),  # whole numbers are floats too, bools are not
        (str, ["a", "b"], [1, 2]),
        (bool, [True, False], [1, 0]),
        ("date", [dt.date(2025, 1, 1), None], ["2025-01-01", "2025-01-02"]),
        ("date", pd.to_datetime(["2025-01-01", "2025-01-02"]), [20250101, 20250102]),
        ("datetime", pd.to_datetime(["2025-01-01T10:00", "2025-01-02T00:00"], utc=True), ["2025-01-01T10:00", "x"]),
        (dict, [{"a": 1}, {}], ["{'a': 1}", "{}"]),
        ("cat[Label]", ["DMSO", "IFNG"], [1, 2]),
    ],
)
def test_every_feature_dtype_is_checked(cell_medium, dtype, good, bad):
    schema = Schema(features=[Feature(name="value", dtype=dtype)])
    assert DataFrameCurator(pd.DataFrame({"value": good}), schema).validate() is None
    problems = _problems(DataFrameCurator(pd.DataFrame({"value": bad}), schema))
    assert len(problems) == 1
    assert problems[0].startswith("value: dtype ") and "does not fit feature dtype" in problems[0]


def test_coerce_dtype_converts_columns_or_says_which_values_cannot_be(instance):
    schema = Schema(
        features=[Feature(name="count", dtype=int), Feature(name="ratio", dtype=float), Feature(name="day", dtype="date")],
        coerce_dtype=True,
    )
    curator = DataFrameCurator(pd.DataFrame({"count": ["1", "2"], "ratio": ["0.5", "1"], "day": ["2025-01-01", None]}), schema)
    curator.validate()
    assert str(curator.df["count"].dtype) == "Int64" and list(curator.df["count"]) == [1, 2]
    assert curator.df["ratio"].tolist() == [0.5, 1.0]
    assert curator.df["day"].iloc[0] == dt.date(2025, 1, 1)

    broken = DataFrameCurator(pd.DataFrame({"count": ["1", "many"], "ratio": ["0.5", "half"], "day": ["soon", None]}), schema)
    assert _problems(broken) == [
        "count: cannot convert 'many' to int",
        "ratio: cannot convert 'half' to float",
        "day: cannot convert 'soon' to date",
    ]


def test_a_typo_gets_a_suggestion_and_a_fix_hint(schema):
    df = _screen(cell_medium=["DMSO", "IFNJ", "Glucose"])
    with pytest.raises(ValidationError) as caught:
        DataFrameCurator(df, schema).validate()
    assert caught.value.problems == [
        "cell_medium: 'IFNJ' is not a CellMedium label; did you mean 'IFNG'?",
        "cell_medium: 'Glucose' is not a CellMedium label",
    ]
    message = str(caught.value)
    assert message.startswith("The DataFrame does not fit its schema (2 problems):")
    assert "fix: correct typos, or create the missing labels with Label(name=..., type=...).save()" in message


def test_synonyms_validate_only_after_standardize(schema):
    df = _screen(cell_medium=pd.Categorical(["interferon gamma", "dmso", "EFO:0000001"]))
    curator = DataFrameCurator(df, schema)
    problems = _problems(curator)
    assert problems == [
        "cell_medium: 'interferon gamma' is a synonym of 'IFNG': call .standardize()",
        "cell_medium: 'dmso' is a case variant of 'DMSO': call .standardize()",
        "cell_medium: 'EFO:0000001' is the ontology id of 'IFNG': call .standardize()",
    ]
    with pytest.raises(ValidationError, match=r"call \.standardize\(\) to replace synonyms"):
        curator.validate()

    changes = curator.standardize()
    assert changes == {"cell_medium": {"interferon gamma": "IFNG", "dmso": "DMSO", "EFO:0000001": "IFNG"}}
    assert curator.df["cell_medium"].tolist() == ["IFNG", "DMSO", "IFNG"]
    assert isinstance(curator.df["cell_medium"].dtype, pd.CategoricalDtype)
    assert sorted(curator.df["cell_medium"].cat.categories) == ["DMSO", "IFNG"]  # merged, no leftovers
    assert df["cell_medium"].tolist()[0] == "interferon gamma"  # the caller's DataFrame is left alone
    assert curator.validate() is None
    assert curator.standardize() == {}


def test_one_error_lists_every_problem(schema):
    strict = Schema(features=schema.features, maximal_set=True).save()
    df = _screen(ENSG00000010610=None, ENSG00000153563=[1.5, 2.0, 3.0], cell_medium=["IFNJ", "interferon gamma", "DMSO"])
    with pytest.raises(ValidationError) as caught:
        DataFrameCurator(df, strict).validate()
    assert caught.value.problems == [
        "ENSG00000010610: column is missing (the schema requires it)",
        "unexpected column 'sample_note': the schema allows only its own features (maximal_set=True)",
        "ENSG00000153563: dtype float64 does not fit feature dtype int (int64 or Int64)",
        "cell_medium: 'IFNJ' is not a CellMedium label; did you mean 'IFNG'?",
        "cell_medium: 'interferon gamma' is a synonym of 'IFNG': call .standardize()",
    ]
    assert "(5 problems)" in str(caught.value)


def test_save_artifact_links_schema_and_labels(schema):
    curator = DataFrameCurator(_screen(cell_medium=["DMSO", "IFNG", "IFNG"]), schema)
    artifact = curator.save_artifact(key="screens/curated.parquet", description="curated screen")

    assert artifact.id is not None and artifact.description == "curated screen"
    saved = Artifact.get(key="screens/curated.parquet")
    assert saved.schema_id == schema.id and saved.schema.name == "perturbation screen"
    assert saved.n_observations == 3
    assert saved.features.get_values() == {"cell_medium": ["DMSO", "IFNG"]}
    assert [a.id for a in Artifact.filter(cell_medium="IFNG")] == [artifact.id]
    assert Artifact.filter(cell_medium="Glucose").count() == 0


def test_save_artifact_saves_a_new_schema_and_reuses_an_identical_one(cell_medium):
    def new_schema() -> Schema:
        return Schema(name="screen", features=[Feature(name="cell_medium", dtype=cell_medium)])

    first = DataFrameCurator(pd.DataFrame({"cell_medium": ["DMSO"]}), new_schema())
    a = first.save_artifact(key="a.parquet")
    second = DataFrameCurator(pd.DataFrame({"cell_medium": ["IFNG"]}), new_schema())
    b = second.save_artifact(key="b.parquet")

    assert first.schema.id is not None and second.schema.id == first.schema.id
    assert a.schema_id == b.schema_id == first.schema.id
    assert Schema.filter().count() == 1


def test_save_artifact_refuses_an_invalid_dataframe(schema):
    with pytest.raises(ValidationError):
        DataFrameCurator(_screen(cell_medium=["IFNJ", "DMSO", "DMSO"]), schema).save_artifact(key="bad.parquet")
    assert Artifact.filter(key="bad.parquet").count() == 0


def test_a_curator_needs_a_dataframe_and_a_feature_schema(schema, cell_medium):
    with pytest.raises(TypeError, match="expects a pandas DataFrame"):
        DataFrameCurator([1, 2], schema)
    with pytest.raises(FieldError, match="use AnnDataCurator"):
        DataFrameCurator(_screen(), Schema(otype="AnnData", components={"obs": schema}))
    with pytest.raises(FieldError, match="needs a schema with features"):
        DataFrameCurator(_screen(), Schema(itype=cell_medium))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


def test_curated_artifacts_are_found_by_their_labels_on_sqlite_and_postgres(any_instance):
    tissue = Label(name="Tissue", is_type=True).save()
    for name in ("liver", "lung"):
        Label(name=name, type=tissue).save()
    schema = Schema(features=[Feature(name="tissue", dtype=tissue), Feature(name="reads", dtype=int)])
    df = pd.DataFrame({"tissue": ["Liver", "lung"], "reads": [10, 20]})
    curator = DataFrameCurator(df, schema)
    curator.standardize()
    artifact = curator.save_artifact(key="tissues.parquet")

    assert [a.id for a in Artifact.filter(tissue="liver", schema_id=curator.schema.id)] == [artifact.id]
    assert Artifact.filter(tissue__name__in=["lung"]).count() == 1
