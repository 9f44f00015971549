"""An instance: one registry database plus its default storage location.

``init()`` creates one, ``connect()`` opens one and makes it the one this process uses
(:func:`flowtrail.core.db.context.current`; found like git finds a repository, see
:mod:`flowtrail.core.db.config`). Connecting checks the
schema revision with one query and never migrates behind the user's back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from flowtrail.core.artifacts.ownership import ensure_marker, instance_id, survey
from flowtrail.core.db import config as cfg
from flowtrail.core.db import context
from flowtrail.core.db.database import Sessions, make_engine, write_transaction
from flowtrail.core.db.migrate import upgrade
from flowtrail.core.errors import ConfigurationError, SchemaVersionError
from flowtrail.core.models import Storage
from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.run import Run
from flowtrail.core.models.setting import get_setting, set_setting
from flowtrail.core.models.storage import normalize_location
from flowtrail.core.models.transform import Transform
from flowtrail.core.openlineage.config import describe_destination
from flowtrail.core.openlineage.emitter import attach
from flowtrail.core.util.hashing import DEFAULT_ALGORITHM, check_algorithm

# The Alembic head this code expects; tests pin it to the migration scripts' head.
SCHEMA_REVISION = "0008"


class Instance:
    """A connected registry: database sessions, default storage and settings."""

    def __init__(self, config: cfg.InstanceConfig) -> None:
        self.config = config
        self.engine = make_engine(config.db_url)
        self.sessions = Sessions(self.engine)
        self._default_storage: Storage | None = None
        self._storages: tuple[tuple[Any, ...], list[Storage]] | None = None
        self.emitter: Any = None  # OpenLineage emission, when configured
        self.caches: dict[str, Any] = {}  # per-instance lookups (features), each with a fingerprint
        self._hash_algorithm: str | None = None

    @property
    def name(self) -> str:
        return cfg.instance_name(self.config)

    def storages(self) -> list[Storage]:
        """Registered storage locations, re-read only when a process registered a new one.

        The root of external references (files other producers named outside every location)
        is not one of them: see :meth:`reference_storage`.
        """
        return [storage for storage in self._all_storages() if not storage.is_reference]

    def storage_locations(self) -> tuple[list[Storage], Storage | None]:
        """:meth:`storages` and :meth:`reference_storage` from one read (what a save needs)."""
        every = self._all_storages()
        return [s for s in every if not s.is_reference], next((s for s in every if s.is_reference), None)

    def reference_storage(self) -> Storage | None:
        """The root under which files known only by their absolute path are referenced, if any."""
        return next((storage for storage in self._all_storages() if storage.is_reference), None)

    def _all_storages(self) -> list[Storage]:
        from sqlalchemy import func

        session = self.sessions.current()
        try:
            # On the connection, not the ORM session: this runs before every save.
            counted = select(func.count(Storage.id), func.max(Storage.id))
            fingerprint = tuple(session.connection().execute(counted).one())
            if self._storages is None or self._storages[0] != fingerprint:
                self._storages = (fingerprint, list(session.scalars(select(Storage))))
        finally:
            self.sessions.end_read()
        return self._storages[1]

    @property
    def hash_algorithm(self) -> str:
        """The content hash this registry was created with (``md5`` unless ``init(hash=...)`` chose another)."""
        if self._hash_algorithm is None:
            from flowtrail.core.models.setting import get_setting
            from flowtrail.core.util.hashing import DEFAULT_ALGORITHM

            # Chosen once at init and never changed, so one read per connection suffices.
            self._hash_algorithm = str(get_setting(self, "hash_algorithm", DEFAULT_ALGORITHM))
        return self._hash_algorithm

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def check_schema(self) -> None:
        """Raise :class:`SchemaVersionError` unless the database is at :data:`SCHEMA_REVISION`."""
        try:
            with self.engine.connect() as conn:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError) as exc:
            if not _missing_table(exc):  # another cause the driver named (RegistryErrors are raised already)
                from flowtrail.core.db.failures import wrap_unexpected

                raise wrap_unexpected(exc, self.engine.url.render_as_string(hide_password=True),
                                      "checking its schema") from exc  # fmt: skip
            raise SchemaVersionError(
                f"The registry at {self.engine.url.render_as_string(hide_password=True)} has no flowtrail "
                f"schema ({exc.orig}). Run `flowtrail init` (new registry) or `flowtrail migrate`."
            ) from None
        if revision != SCHEMA_REVISION:
            raise SchemaVersionError(
                f"The registry's schema is at revision {revision!r} but this flowtrail expects "
                f"{SCHEMA_REVISION!r}. Run `flowtrail migrate` (or upgrade flowtrail if the registry is newer)."
            )

    @property
    def default_storage(self) -> Storage:
        """The storage location managed copies are written to."""
        if self._default_storage is None:
            root, kind = normalize_location(self.config.storage or self._stored_default())
            session = self.sessions.current()
            storage = session.scalar(select(Storage).where(Storage.root == root))
            self.sessions.end_read()
            if storage is None:
                storage = register_storage(self, root)
            self._default_storage = storage
        return self._default_storage

    def _stored_default(self) -> str:
        value = get_setting(self, "default_storage")
        if not value:
            raise ConfigurationError(
                "This registry has no default storage. Set FLOWTRAIL_STORAGE=/path/or/url, or run "
                "`flowtrail init --storage URL --db URL` once to record one."
            )
        return str(value)

    def close(self) -> None:
        if self.emitter is not None:
            from flowtrail.core.openlineage.emitter import detach

            detach(self.emitter)
            self.emitter = None
        self.sessions.close()
        self.engine.dispose()

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"Instance(name={self.name!r}, db={url!r})"


def _missing_table(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "no such table" in text or "does not exist" in text


def register_storage(instance: Instance, location: str | os.PathLike[str], description: str | None = None) -> Storage:
    """Register a storage location (idempotent); files inside it are then registered in place."""
    root, kind = normalize_location(location)
    if kind == "local":
        Path(root).mkdir(parents=True, exist_ok=True)
    with write_transaction(instance.sessions, [f"storage:{root}"]) as session:
        storage = session.scalar(select(Storage).where(Storage.root == root))
        if storage is None:
            storage = Storage(root, kind, description)
            session.add(storage)
        elif storage.is_reference:  # asked for explicitly: the root of references becomes a location
            storage.type, storage.description = kind, description or storage.description
    return storage


def _default_logging() -> None:
    # Users should see flowtrail's one-line notices (e.g. "3 of 5 artifacts were already
    # registered") without configuring logging; an application that configures logging wins.
    import logging

    logger = logging.getLogger("flowtrail")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("flowtrail: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def connect(path: str | os.PathLike[str] | None = None, *, check: bool = True) -> Instance:
    """Open the instance at ``path`` (or the discovered one) and make it current for this process."""
    _default_logging()
    instance = Instance(cfg.resolve(path))
    if check:
        instance.check_schema()

    instance.emitter = attach(instance)
    previous = context.replace_current(instance)
    if previous is not None:
        previous.close()
    if check:
        from flowtrail.core.runs.journal import sync_pending

        sync_pending(instance)  # lineage journaled while the registry was unavailable
    return instance


def reconnect(config: cfg.InstanceConfig) -> Instance:
    """Open ``config``'s instance again in a forked child: the parent's connections are not shared."""
    if config.root:
        return connect(config.root)

    instance = Instance(config)
    instance.emitter = attach(instance)
    context.replace_current(instance)  # the parent's engine is not closed from the child
    return instance


def init(
    path: str | os.PathLike[str] = ".",
    *,
    storage: str | None = None,
    db: str | None = None,
    name: str | None = None,
    hash: str | None = None,  # noqa: A002 - the user-facing name, like `flowtrail init --hash`
) -> Instance:
    """Create ``.flowtrail/`` in ``path`` with a registry (SQLite unless ``db``) and storage; connect it.

    ``hash="blake3"`` makes every artifact's content hash BLAKE3 instead of MD5 (faster; needs the
    ``blake3`` extra; hashes then no longer match ``md5sum`` or S3 ETags). The choice is permanent.
    """
    algorithm = check_algorithm(hash or DEFAULT_ALGORITHM)
    root = Path(path).resolve()
    if (root / cfg.DOT_FOLDER / cfg.CONFIG_FILE).exists():
        raise ConfigurationError(
            f"{root} already holds a flowtrail instance. Use it as it is, run `flowtrail migrate` to update "
            f"its schema, or remove {root / cfg.DOT_FOLDER} to start over."
        )
    if storage is not None:
        storage = normalize_location(storage)[0]
    root.mkdir(parents=True, exist_ok=True)
    cfg.write_config(root, db_url=db, storage=storage, name=name or root.name)
    config = cfg.read_config(root)
    for variable in (cfg.ENV_DB_URL, cfg.ENV_STORAGE):
        if os.environ.get(variable):
            raise ConfigurationError(
                f"{variable} is set and would override the new instance's settings: unset it to run init."
            )
    upgrade(config.db_url)
    instance = connect(root)
    set_setting(instance, "name", instance.name)
    if config.storage:
        set_setting(instance, "default_storage", normalize_location(config.storage)[0])
    _record_hash_algorithm(instance, hash, algorithm)
    _claim_storage(instance)
    return instance


def _claim_storage(instance: Instance) -> None:
    """Give the new registry its id and mark its prefix; warn about what the storage already holds."""
    import logging

    storage = instance.default_storage
    findings = survey(storage, instance_id(instance))
    for warning in findings.warnings(storage.root):
        logging.getLogger("flowtrail").warning(warning)
    ensure_marker(instance, storage)


def _record_hash_algorithm(instance: Instance, requested: str | None, algorithm: str) -> None:
    """Store the hash algorithm of a new registry; a shared registry keeps the one it has."""
    from flowtrail.core.models.setting import get_setting, set_setting

    stored = get_setting(instance, "hash_algorithm")
    if stored is None:
        session = instance.sessions.current()
        has_artifacts = session.scalar(select(Artifact.id).limit(1)) is not None
        instance.sessions.end_read()
        stored = "md5" if has_artifacts else None  # registries from before the choice existed hash with MD5
    if stored is None:
        set_setting(instance, "hash_algorithm", algorithm)
    elif requested is not None and requested != stored:
        url = instance.engine.url.render_as_string(hide_password=True)
        context.disconnect()
        cfg_file = Path(instance.config.root or ".") / cfg.DOT_FOLDER / cfg.CONFIG_FILE
        cfg_file.unlink(missing_ok=True)  # leave no half-made instance behind
        raise ConfigurationError(
            f"The registry at {url} already hashes its artifacts with {stored}; it cannot switch to "
            f"{requested}. Run init without --hash (or with --hash {stored})."
        )
    instance._hash_algorithm = stored or algorithm


def info(instance: Instance) -> dict[str, Any]:
    """What ``flowtrail info`` shows: where the registry and storage are, and what they hold."""
    from sqlalchemy import func

    session = instance.sessions.current()
    counts = {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (Artifact, Transform, Run, Storage)
    }
    instance.sessions.end_read()

    return {
        "name": instance.name,
        "root": str(instance.config.root) if instance.config.root else None,
        "db": instance.engine.url.render_as_string(hide_password=True),
        "storage": instance.default_storage.root,
        "hash": instance.hash_algorithm,
        "counts": counts,
        "openlineage": describe_destination(),
    }
