"""collision-free transform keys and file references

Data only, no schema change:

- The storage root "/" that ingesting an OpenLineage ``file`` dataset used to register becomes the
  root of external references (type ``local-references``): it no longer makes every local file
  "in place"; what it holds keeps its records.
- Prefect task transforms were keyed by the task's name alone; they become ``<flow>/<task>`` when
  every run of every version of the key belongs to one flow (a key whose runs span several flows
  stays as it is: its versions mix flows and cannot be split safely).
- ``@tracked()`` functions of a script were keyed ``__main__.<name>``; they become
  ``<script key>:<name>`` when every run has a parent run of one script or notebook transform.
  Other function keys (``module.name``) stay: where the module's name ends cannot be told apart
  from the qualified name.

A target key already in use is never merged into: the old key then stays.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_storage = sa.table('storage', sa.column('root', sa.String), sa.column('type', sa.String))
_transform = sa.table(
    'transform', sa.column('id', sa.Integer), sa.column('namespace', sa.String), sa.column('key', sa.String),
    sa.column('type', sa.String),
)  # fmt: skip
_run = sa.table(
    'run', sa.column('id', sa.Integer), sa.column('transform_id', sa.Integer), sa.column('parent_id', sa.Integer),
    sa.column('engine', sa.String),
)  # fmt: skip


def _parents(conn: sa.Connection, key: str, type_: str) -> tuple[set[str | None], set[str | None], set[str | None]]:
    """Of every run of ``key``: its parent run's transform key and type (None: no parent), its engine."""
    child, parent, parent_transform = _run.alias('child'), _run.alias('parent'), _transform.alias('pt')
    rows = conn.execute(
        sa.select(parent_transform.c.key, parent_transform.c.type, child.c.engine)
        .select_from(
            child.join(_transform, _transform.c.id == child.c.transform_id)
            .outerjoin(parent, parent.c.id == child.c.parent_id)
            .outerjoin(parent_transform, parent_transform.c.id == parent.c.transform_id)
        )
        .where(_transform.c.namespace == '', _transform.c.key == key, _transform.c.type == type_)
    ).all()
    return {r[0] for r in rows}, {r[1] for r in rows}, {r[2] for r in rows}


def _rename(conn: sa.Connection, old: str, new: str, type_: str) -> None:
    taken = conn.execute(
        sa.select(sa.func.count()).select_from(_transform).where(_transform.c.namespace == '', _transform.c.key == new)
    ).scalar()
    if not taken:
        conn.execute(
            _transform.update()
            .where(_transform.c.namespace == '', _transform.c.key == old, _transform.c.type == type_)
            .values(key=new)
        )


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(_storage.update().where(_storage.c.root == '/', _storage.c.type == 'local').values(type='local-references'))

    task_keys = conn.execute(
        sa.select(_transform.c.key).where(_transform.c.namespace == '', _transform.c.type == 'task').distinct()
    ).scalars().all()
    for key in task_keys:
        flows, _types, engines = _parents(conn, key, 'task')
        if len(flows) == 1 and None not in flows and engines == {'prefect'}:
            _rename(conn, key, f"{next(iter(flows))}/{key}", 'task')

    function_keys = conn.execute(
        sa.select(_transform.c.key).where(
            _transform.c.namespace == '', _transform.c.type == 'function', _transform.c.key.startswith('__main__.')
        ).distinct()
    ).scalars().all()
    for key in function_keys:
        scripts, types, _engines = _parents(conn, key, 'function')
        if len(scripts) == 1 and None not in scripts and types <= {'script', 'notebook'}:
            _rename(conn, key, f"{next(iter(scripts))}:{key.removeprefix('__main__.')}", 'function')


def downgrade() -> None:
    # Keys stay as they are (the old ones collided); the reference root becomes a location again.
    conn = op.get_bind()
    conn.execute(_storage.update().where(_storage.c.type == 'local-references').values(type='local'))
