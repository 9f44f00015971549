"""flowtrail: which code, parameters and inputs produced every file of your workflows.

The public API is re-exported here and imported lazily: ``import flowtrail`` loads neither
SQLAlchemy nor pandas nor any workflow engine until you use something that needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowtrail._version import __version__

if TYPE_CHECKING:
    from flowtrail.core.artifacts.save import save_artifacts as save
    from flowtrail.core.curation import AnnDataCurator, DataFrameCurator
    from flowtrail.core.errors import (
        ConfigurationError,
        DoesNotExist,
        FieldError,
        FlowtrailError,
        IntegrityError,
        InvalidKey,
        MultipleResultsFound,
        NoInstanceError,
        SchemaVersionError,
        StorageError,
        TrackingError,
        UnsupportedFormat,
        ValidationError,
    )
    from flowtrail.core.instance import Instance, connect, init
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.collection import Collection
    from flowtrail.core.models.environment import Environment
    from flowtrail.core.models.feature import Feature
    from flowtrail.core.models.label import Label
    from flowtrail.core.models.project import Project
    from flowtrail.core.models.run import Run
    from flowtrail.core.models.schema import Schema
    from flowtrail.core.models.storage import Storage
    from flowtrail.core.models.transform import Transform
    from flowtrail.core.query.queryset import QuerySet
    from flowtrail.core.runs.script import finish, track
    from flowtrail.core.runs.tracked import tracked
    from flowtrail.core.runs.tracking import current_run

_EXPORTS = {
    "Artifact": "flowtrail.core.models",
    "Environment": "flowtrail.core.models",
    "Run": "flowtrail.core.models",
    "Storage": "flowtrail.core.models",
    "Transform": "flowtrail.core.models",
    "Feature": "flowtrail.core.models",
    "Label": "flowtrail.core.models",
    "Project": "flowtrail.core.models",
    "Collection": "flowtrail.core.models",
    "Schema": "flowtrail.core.models",
    "DataFrameCurator": "flowtrail.core.curation",
    "AnnDataCurator": "flowtrail.core.curation",
    "QuerySet": "flowtrail.core.query.queryset",
    "Instance": "flowtrail.core.instance",
    "connect": "flowtrail.core.instance",
    "init": "flowtrail.core.instance",
    "current_run": "flowtrail.core.runs.tracking",
    "finish": "flowtrail.core.runs.script",
    "track": "flowtrail.core.runs.script",
    "tracked": "flowtrail.core.runs.tracked",
    "save": "flowtrail.core.artifacts.save:save_artifacts",
    "ConfigurationError": "flowtrail.core.errors",
    "DoesNotExist": "flowtrail.core.errors",
    "FieldError": "flowtrail.core.errors",
    "FlowtrailError": "flowtrail.core.errors",
    "IntegrityError": "flowtrail.core.errors",
    "InvalidKey": "flowtrail.core.errors",
    "MultipleResultsFound": "flowtrail.core.errors",
    "NoInstanceError": "flowtrail.core.errors",
    "SchemaVersionError": "flowtrail.core.errors",
    "StorageError": "flowtrail.core.errors",
    "TrackingError": "flowtrail.core.errors",
    "UnsupportedFormat": "flowtrail.core.errors",
    "ValidationError": "flowtrail.core.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'flowtrail' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module_name), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
