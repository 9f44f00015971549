import json
import subprocess
import sys

import flowtrail


def test_all_is_pinned():
    assert flowtrail.__all__ == sorted(
        [
            "AnnDataCurator", "Artifact", "Collection", "ConfigurationError", "DataFrameCurator", "DoesNotExist",
            "Environment", "Feature", "FieldError", "FlowtrailError", "Instance", "IntegrityError", "InvalidKey",
            "Label", "MultipleResultsFound", "NoInstanceError", "Project", "QuerySet", "Run", "Schema",
            "SchemaVersionError", "Storage", "StorageError", "TrackingError", "Transform", "UnsupportedFormat",
            "ValidationError", "__version__", "connect", "current_run", "finish", "init", "save", "track",
            "tracked",
        ]
    )  # fmt: skip


def test_every_public_name_resolves():
    for name in flowtrail.__all__:
        assert getattr(flowtrail, name) is not None


def test_every_error_derives_from_flowtrail_error():
    for name in flowtrail.__all__:
        value = getattr(flowtrail, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, flowtrail.FlowtrailError)


def test_import_flowtrail_loads_no_engine_and_no_heavy_library():
    code = "import sys, json, flowtrail; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code])))
    for heavy in ("snakemake", "prefect", "nextflow", "pandas", "anndata", "pyarrow", "sqlalchemy", "fsspec", "pandera"):
        assert heavy not in loaded, f"import flowtrail imported {heavy}"


def test_tracking_loads_no_dataframe_library(tmp_path):
    code = (
        "import sys, json, flowtrail; flowtrail.init('.'); flowtrail.track(); flowtrail.finish();"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.check_output([sys.executable, "-c", code], cwd=tmp_path)
    loaded = set(json.loads(out.splitlines()[-1]))
    for heavy in ("pandas", "anndata", "pyarrow", "snakemake", "prefect"):
        assert heavy not in loaded, f"track() imported {heavy}"
