"""Reading artifacts into memory and writing in-memory objects to files.

pandas, pyarrow and anndata are imported here only when an artifact is loaded or created from
a DataFrame/AnnData, so ``import flowtrail`` stays light.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowtrail.core.errors import UnsupportedFormat

LOADERS = {
    ".parquet": "pandas.DataFrame",
    ".csv": "pandas.DataFrame",
    ".tsv": "pandas.DataFrame",
    ".h5ad": "anndata.AnnData",
    ".json": "dict or list",
}


def load_path(path: Path, suffix: str) -> Any:
    """Load a local file by its suffix; raise :class:`UnsupportedFormat` for other suffixes."""
    suffix = suffix.lower()
    if suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path)
    if suffix in (".csv", ".tsv"):
        import pandas as pd

        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    if suffix == ".h5ad":
        import anndata

        return anndata.read_h5ad(path)
    if suffix == ".json":
        return json.loads(path.read_text())
    supported = ", ".join(f"{s} ({t})" for s, t in LOADERS.items())
    raise UnsupportedFormat(
        f"Cannot load a {suffix or 'suffix-less'} artifact into memory; supported: {supported}. "
        "Use .cache() for a local path or .open() for a file handle instead."
    )


def write_dataframe(frame: Any, path: Path) -> int:
    """Write a DataFrame as parquet; return its number of rows."""
    frame.to_parquet(path)
    return len(frame)


def write_anndata(adata: Any, path: Path) -> int:
    """Write an AnnData as h5ad; return its number of observations."""
    adata.write_h5ad(path)
    return int(adata.n_obs)


def otype_of(obj: Any) -> str | None:
    name = type(obj).__name__
    return name if name in ("DataFrame", "AnnData") else None
