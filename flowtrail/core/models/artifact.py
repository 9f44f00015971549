"""Artifact: a file, folder, DataFrame or AnnData, content-hashed and versioned by key."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flowtrail.core.errors import StorageError
from flowtrail.core.models.links import artifact_label, artifact_project
from flowtrail.core.models.record import LineageMixin, Record, utcnow
from flowtrail.core.models.run import Run, run_input
from flowtrail.core.models.storage import Storage, is_url
from flowtrail.core.query.queryset import QuerySet
from flowtrail.core.util.hashing import HASH_MODES
from flowtrail.core.util.keys import validate_key

if TYPE_CHECKING:
    from flowtrail.core.annotations.linked import LinkedQuerySet
    from flowtrail.core.models.collection import Collection
    from flowtrail.core.models.label import Label
    from flowtrail.core.models.project import Project
    from flowtrail.core.models.schema import Schema
    from flowtrail.core.models.transform import Transform


_OBJECT_SUFFIX = {"DataFrame": ".parquet", "AnnData": ".h5ad"}


class _FeaturesDescriptor:
    """``artifact.features`` gives a feature manager, ``Artifact.features`` the bulk helpers."""

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        from flowtrail.core.annotations.values import FeatureManager, RegistryFeatures  # door: Artifact.features

        return RegistryFeatures() if obj is None else FeatureManager(obj)


class Artifact(LineageMixin, Record):
    """A file, folder, DataFrame or AnnData registered with its content hash.

    ``Artifact(path_or_url, key=..., description=...).save()`` registers a file or folder.
    Files inside a registered storage location (and remote URLs) are registered in place;
    other local files are copied into the instance's managed storage. ``save()`` returns the
    registered record: when identical content is already registered under the same key (or,
    without a key, anywhere) that existing record is returned instead of a new one.
    """

    __tablename__ = "artifact"
    __table_args__ = (
        UniqueConstraint("storage_id", "key", "version"),
        # "the latest version of this key" and "the version this run produced": every save and
        # every ingested event asks one of these.
        Index("ix_artifact_family_latest", "storage_id", "key", "is_latest"),
        Index("ix_artifact_family_run", "storage_id", "key", "run_id"),
    )
    _search_fields = ("key", "description", "uid", "hash")
    _query_aliases: ClassVar[dict[str, str]] = {"labels": "_labels", "projects": "_projects"}
    _has_features: ClassVar[bool] = True  # filter() treats unknown names as features

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(20), unique=True)
    key: Mapped[str | None] = mapped_column(String(1024), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    suffix: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(32), default="file")
    otype: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    hash: Mapped[str | None] = mapped_column(String(64), index=True)
    hash_type: Mapped[str | None] = mapped_column(String(32))
    n_files: Mapped[int | None] = mapped_column(Integer)
    n_observations: Mapped[int | None] = mapped_column(BigInteger)
    storage_id: Mapped[int] = mapped_column(ForeignKey("storage.id"), index=True)
    path: Mapped[str] = mapped_column(String(2048))
    is_managed: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"), index=True)
    facets: Mapped[dict[str, Any] | None]  # OpenLineage dataset facets of ingested datasets
    schema_id: Mapped[int | None] = mapped_column(ForeignKey("schema.id", ondelete="SET NULL"))  # curated against

    storage: Mapped[Storage] = relationship()
    run: Mapped[Run | None] = relationship(back_populates="produced")
    input_of_runs: Mapped[list[Run]] = relationship(
        secondary=run_input, back_populates="inputs", viewonly=True, order_by="Run.id"
    )
    schema: Mapped[Schema | None] = relationship()
    collections: Mapped[list[Collection]] = relationship(
        secondary="collection_artifact", viewonly=True, order_by="Collection.id"
    )
    _labels: Mapped[list[Label]] = relationship(secondary=artifact_label, viewonly=True, order_by="Label.id")
    _projects: Mapped[list[Project]] = relationship(secondary=artifact_project, viewonly=True, order_by="Project.id")
    transform: Mapped[Transform | None] = relationship(
        secondary="run",
        primaryjoin="Artifact.run_id == Run.id",
        secondaryjoin="Run.transform_id == Transform.id",
        viewonly=True,
        uselist=False,
    )

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        key: str | None = None,
        description: str | None = None,
        kind: str | None = None,
        run: Run | None = None,
        hash_mode: str = "full",
        _object: Any = None,
        _external: bool = False,
    ) -> None:
        """Describe a file or folder (local path or URL) to register; nothing is written until ``save()``.

        ``hash_mode="size-mtime"`` skips reading the content of files registered in place (for very
        large workflow outputs); the hash then identifies a version of the file, not its bytes.
        """
        if hash_mode not in HASH_MODES:
            raise ValueError(f"hash_mode must be one of {', '.join(HASH_MODES)}, not {hash_mode!r}.")
        otype = None
        if _object is not None:
            otype, source, suffix, default_kind = type(_object).__name__, None, _OBJECT_SUFFIX[type(_object).__name__], "dataset"
            if key is not None and not key.endswith(suffix):
                raise StorageError(f"A {otype} is stored as {suffix}: end the key with {suffix}, e.g. {key}{suffix}.")
        elif path is None and _external:
            # Metadata of a dataset flowtrail cannot read itself (e.g. from OpenLineage events).
            otype, source, default_kind = None, None, "dataset"
            suffix = _suffix(key.rsplit("/", 1)[-1]) if key else ""
        elif path is None:
            raise TypeError("Artifact() needs a path or URL; use Artifact.from_dataframe() for a DataFrame.")
        elif not is_url(path) and (fast := _plain_local(path)) is not None:
            source, is_dir = fast  # the common case, with one stat: a file or folder that is not a link
            default_kind = "folder" if is_dir else "file"
            suffix = "" if is_dir else _suffix(os.path.basename(source))
        elif not is_url(path):
            local = Path(os.fspath(path).removeprefix("file://")).expanduser()
            if not local.exists():
                raise StorageError(
                    f"No file or folder at {local.resolve()}: check the path, or save a DataFrame "
                    "with Artifact.from_dataframe()."
                )
            # Resolve the folder, not a symlink itself: a link is registered where it is (its
            # content is read through it), so a published link is its own artifact.
            source = str(local.parent.resolve() / local.name) if local.is_symlink() else str(local.resolve())
            default_kind = "folder" if local.is_dir() else "file"
            suffix = "" if local.is_dir() else _suffix(local.name)
        else:
            source = os.fspath(path)
            default_kind = "file"
            suffix = _suffix(PurePosixPath(source.split("://", 1)[1]).name)
        super().__init__(
            key=validate_key(key) if key is not None else None,
            description=description,
            kind=kind or default_kind,
            suffix=suffix,
            otype=otype,
        )
        self._source = source
        self._pending_run = run
        self._in_memory = _object
        self._hash_mode = hash_mode

    @classmethod
    def from_dataframe(
        cls, df: Any, *, key: str | None = None, description: str | None = None, run: Run | None = None
    ) -> Artifact:
        """An artifact for a pandas DataFrame, stored as parquet."""
        if type(df).__name__ != "DataFrame":
            raise TypeError(f"Artifact.from_dataframe() expects a pandas DataFrame, got {type(df).__name__}.")
        return cls(key=key, description=description, run=run, _object=df)

    @classmethod
    def from_anndata(
        cls, adata: Any, *, key: str | None = None, description: str | None = None, run: Run | None = None
    ) -> Artifact:
        """An artifact for an AnnData object, stored as h5ad."""
        if type(adata).__name__ != "AnnData":
            raise TypeError(f"Artifact.from_anndata() expects an AnnData, got {type(adata).__name__}.")
        return cls(key=key, description=description, run=run, _object=adata)

    # -- saving ----------------------------------------------------------------------------
    def save(self) -> Artifact:
        """Register the artifact; return the registered record (an existing one for identical content)."""
        if self.id is not None:
            from flowtrail.core.artifacts.save import update_artifact

            update_artifact(self)
            return self
        from flowtrail.core.artifacts.save import save_artifacts

        return save_artifacts([self])[0]

    # -- annotations -----------------------------------------------------------------------
    # artifact.features.add_values({...}) / .get_values() / .remove_values(...);
    # Artifact.features.add_values_many({artifact: {...}, ...}) for bulk annotation.
    features = _FeaturesDescriptor()

    @property
    def labels(self) -> LinkedQuerySet[Label]:
        """Labels of this artifact (``.add(label)``, ``.remove(label)``), with or without a feature."""
        from flowtrail.core.annotations.linked import linked_labels

        return linked_labels(self, "labels")

    @property
    def projects(self) -> LinkedQuerySet[Project]:
        """Projects this artifact belongs to (``.add(project)``)."""
        from flowtrail.core.annotations.linked import linked_projects

        return linked_projects(self)

    # -- content ---------------------------------------------------------------------------
    @property
    def location(self) -> str:
        """The absolute local path or URL of the stored object."""
        return self.storage.full_path(self.path)

    def cache(self) -> Path:
        """A local path to the content, downloading remote objects once."""
        from flowtrail.core.artifacts.access import cache_artifact

        return cache_artifact(self)

    def load(self) -> Any:
        """Load into memory: parquet/csv/tsv -> DataFrame, h5ad -> AnnData, json -> object."""
        from flowtrail.core.artifacts.access import load_artifact

        return load_artifact(self)

    def open(self, mode: str = "rb") -> BinaryIO:  # noqa: A003
        """Open the content for streaming reads (local files and remote objects alike)."""
        from flowtrail.core.artifacts.access import open_artifact

        return open_artifact(self, mode)

    @property
    def versions(self) -> QuerySet[Artifact]:
        """Every version of this artifact, oldest first."""
        return Artifact.filter(uid__startswith=self.uid[:16]).order_by("version")

    def delete(self) -> None:
        """Delete the record (and the managed copy); files registered in place are left alone."""
        from flowtrail.core.artifacts.deletion import delete_artifact

        delete_artifact(self)

    def describe(self) -> None:
        """Print the artifact's metadata and provenance as a tree."""
        from flowtrail.core.describe.records import describe_artifact

        describe_artifact(self)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [
            ("uid", self.uid), ("key", self.key), ("version", self.version),
            ("size", self.size), ("hash", self.hash[:12] if self.hash else None),
        ]  # fmt: skip


def _plain_local(path: str | os.PathLike[str]) -> tuple[str, bool] | None:
    """``(resolved path, is a folder)`` of a local path that exists and is no symlink, else None."""
    text = os.path.expanduser(os.fspath(path).removeprefix("file://"))
    text = text.rstrip("/") or text  # "link/" names the link itself, as pathlib reads it
    try:
        mode = os.lstat(text).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISLNK(mode):
        return None
    return os.path.realpath(text), stat.S_ISDIR(mode)


def _suffix(name: str) -> str:
    parts = name.split(".")
    if len(parts) < 2 or not parts[0] and len(parts) == 2:
        return ""
    # Keep compound suffixes users expect (.fastq.gz, .tar.gz, .ome.zarr).
    if len(parts) >= 3 and parts[-1] in ("gz", "bz2", "xz", "zst", "zarr") and len(parts[-2]) <= 6:
        return "." + ".".join(parts[-2:])
    return "." + parts[-1]
