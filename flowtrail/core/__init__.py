"""The registry and lineage core. Internal: use the names re-exported by :mod:`flowtrail`.

The core is a house of rooms on floors. A module may import its own room and any lower floor; the
few imports that point up are doors, each named in ``tests/test_layers.py``. Lowest floor first:

``errors``
    The :class:`~flowtrail.core.errors.FlowtrailError` tree: every exception flowtrail raises.
``util/``
    Building blocks with no registry behind them: ids, keys, params, host facts, hashing and
    copying, file formats, DataFrames from SQL rows, process checks, short ids, and the one
    "next version of a key" rule (``versioning``; free of SQLAlchemy, so the fast path shares it).
``db/``
    The database, not its tables: where the instance is (``config``), engines and write
    transactions (``database``), Alembic upgrades (``migrate``), database failures as flowtrail
    errors (``failures``, ``timeouts``) and the handle on the current instance (``context``).
``query/``
    Django-style query sets over any model.
``models/``
    One mapped table per module. A model's methods are one-line doors to the services above it.
``runs/``
    A run's life: tracking, ``track()`` for scripts and its sqlite3 fast path, the run context
    across processes, the journal for outages, reaping dead runs.
``artifacts/``
    Bytes in storage: saving (hash and copy outside the transaction), reading, managed objects,
    cleanup, settling a commit that got no answer.
``annotations/``
    Features and their values, labels, vocabularies and ontologies, schemas, collections, filters.
``lineage/``, ``openlineage/``, ``describe/``, ``curation/``, ``migrations/``
    Lineage graphs and pictures; OpenLineage events out (and dataset names both ways); rich trees
    for ``describe()``; curation of DataFrames and AnnData; the Alembic scripts.
``instance``
    An instance: ``init()``, ``connect()``, ``info()``; wires the database, storage and emitter.
``adapter/``
    The one door engine adapters and the OpenLineage consumer write through (see its docstring).
"""
