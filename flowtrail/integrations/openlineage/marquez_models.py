"""What the Marquez-compatible API answers, as typed models (so ``/openapi.json`` says it too).

Field names and shapes are those Marquez's own web UI and the marquez-python client read: camelCase,
ISO 8601 times (``createdAt``/``updatedAt`` always set), tags as lists of names, facets as objects.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RunStateName = Literal["NEW", "RUNNING", "COMPLETED", "FAILED", "ABORTED"]
Facets = dict[str, Any]


class Namespace(BaseModel):
    name: str
    createdAt: str
    updatedAt: str
    ownerName: str
    description: str | None = None
    isHidden: bool = False


class Namespaces(BaseModel):
    namespaces: list[Namespace]
    totalCount: int


class DatasetId(BaseModel):
    namespace: str
    name: str


class JobId(BaseModel):
    namespace: str
    name: str


class DatasetVersionId(BaseModel):
    namespace: str
    name: str
    version: str


class DatasetVersionRef(BaseModel):
    datasetVersionId: DatasetVersionId
    facets: Facets = Field(default_factory=dict)


class JobVersionRef(BaseModel):
    namespace: str
    name: str
    version: str


class Run(BaseModel):
    id: str
    createdAt: str
    updatedAt: str
    nominalStartTime: str | None = None
    nominalEndTime: str | None = None
    state: RunStateName
    startedAt: str | None = None
    endedAt: str | None = None
    durationMs: int | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    jobVersion: JobVersionRef
    inputDatasetVersions: list[DatasetVersionRef] = Field(default_factory=list)
    outputDatasetVersions: list[DatasetVersionRef] = Field(default_factory=list)
    context: dict[str, str] = Field(default_factory=dict)
    facets: Facets = Field(default_factory=dict)


class Runs(BaseModel):
    runs: list[Run]
    totalCount: int


class RunFacets(BaseModel):
    runId: str
    facets: Facets


class Job(BaseModel):
    id: JobId
    type: Literal["BATCH", "STREAM", "SERVICE"] = "BATCH"
    name: str
    simpleName: str
    parentJobName: str | None = None
    parentJobUuid: str | None = None
    createdAt: str
    updatedAt: str
    namespace: str
    inputs: list[DatasetId]
    outputs: list[DatasetId]
    location: str | None = None
    description: str | None = None
    latestRun: Run | None = None
    latestRuns: list[Run] = Field(default_factory=list)
    facets: Facets = Field(default_factory=dict)
    currentVersion: str | None = None
    tags: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)


class Jobs(BaseModel):
    jobs: list[Job]
    totalCount: int


class DatasetField(BaseModel):
    name: str | None = None
    type: str | None = None
    tags: list[str] = Field(default_factory=list)
    description: str | None = None


class Dataset(BaseModel):
    id: DatasetId
    type: Literal["DB_TABLE", "STREAM", "FILE"]
    name: str
    physicalName: str
    createdAt: str
    updatedAt: str
    namespace: str
    sourceName: str
    fields: list[DatasetField]
    tags: list[str]
    lastModifiedAt: str | None = None
    description: str | None = None
    facets: Facets = Field(default_factory=dict)
    currentVersion: str | None = None
    deleted: bool = False


class Datasets(BaseModel):
    datasets: list[Dataset]
    totalCount: int


class DatasetVersion(BaseModel):
    id: DatasetVersionId
    type: Literal["DB_TABLE", "STREAM", "FILE"]
    name: str
    physicalName: str
    createdAt: str
    version: str
    namespace: str
    sourceName: str
    fields: list[DatasetField]
    tags: list[str]
    lastModifiedAt: str | None = None
    description: str | None = None
    lifecycleState: str | None = None
    createdByRun: Run | None = None
    facets: Facets = Field(default_factory=dict)


class DatasetVersions(BaseModel):
    versions: list[DatasetVersion]
    totalCount: int


class Edge(BaseModel):
    origin: str
    destination: str


class LineageNode(BaseModel):
    id: str
    type: Literal["JOB", "DATASET"]
    data: Job | Dataset
    inEdges: list[Edge]
    outEdges: list[Edge]


class LineageGraph(BaseModel):
    graph: list[LineageNode]


class SearchResult(BaseModel):
    type: Literal["JOB", "DATASET"]
    name: str
    updatedAt: str
    namespace: str
    nodeId: str


class SearchResults(BaseModel):
    totalCount: int
    results: list[SearchResult]


class Tag(BaseModel):
    name: str
    description: str | None = None


class Tags(BaseModel):
    tags: list[Tag]


class LineageEvents(BaseModel):
    events: list[dict[str, Any]]
    totalCount: int


class LineageMetric(BaseModel):
    """Run events per interval, by kind (the dashboard's lineage-events chart)."""

    startInterval: str
    endInterval: str
    start: int
    complete: int
    fail: int
    abort: int


class IntervalMetric(BaseModel):
    """Jobs or datasets first seen per interval (the dashboard's counters)."""

    startInterval: str
    endInterval: str
    count: int


class Problem(BaseModel):
    code: int
    message: str
