"""Validation of OpenLineage events against the official JSON schemas, offline (a test helper).

Schema URLs under https://openlineage.io/spec/ resolve to tests/data/openlineage/spec/
(every published version, see its SOURCE.md), flowtrail's own facet to the schema shipped in the package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource

from flowtrail.core.openlineage.events import FACET_SCHEMA_FILE, FACET_SCHEMA_URL

SPEC_DIR = Path(__file__).resolve().parent / "data" / "openlineage" / "spec"
SPEC_PREFIX = "https://openlineage.io/spec/"


def _retrieve(uri: str) -> Resource:
    if uri.startswith(SPEC_PREFIX):
        path = SPEC_DIR / uri[len(SPEC_PREFIX) :]
    elif uri == FACET_SCHEMA_URL.split("#")[0]:
        path = FACET_SCHEMA_FILE
    else:
        raise LookupError(f"no offline copy of {uri}")
    return Resource.from_contents(json.loads(path.read_text()))


REGISTRY = Registry(retrieve=_retrieve)  # type: ignore[call-arg]


def _facets(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for where in ("run", "job"):
        for name, facet in (event.get(where, {}).get("facets") or {}).items():
            yield f"{where}.{name}", facet
    for side in ("inputs", "outputs"):
        for dataset in event.get(side) or []:
            for group in ("facets", "inputFacets", "outputFacets"):
                for name, facet in (dataset.get(group) or {}).items():
                    yield f"{side}.{dataset['name']}.{name}", facet


def validate_event(event: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless the event and each facet match their schemas."""
    def check(instance: dict[str, Any], url: str) -> None:
        root = REGISTRY.get_or_retrieve(url.split("#")[0]).value.contents
        cls = validator_for(root, default=Draft202012Validator)
        cls({"$ref": url}, registry=REGISTRY, format_checker=cls.FORMAT_CHECKER).validate(instance)

    check(event, event["schemaURL"])
    for where, facet in _facets(event):
        assert "_producer" in facet and "_schemaURL" in facet, where
        check(facet, facet["_schemaURL"])
