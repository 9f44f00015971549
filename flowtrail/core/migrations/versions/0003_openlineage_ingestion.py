"""openlineage ingestion

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lineage_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('event_type', sa.String(length=16), nullable=True),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_uid', sa.String(length=64), nullable=True),
    sa.Column('job_namespace', sa.String(length=1024), nullable=True),
    sa.Column('job_name', sa.String(length=1024), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lineage_event')),
    sa.UniqueConstraint('hash', name=op.f('uq_lineage_event_hash'))
    )
    with op.batch_alter_table('lineage_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lineage_event_event_time'), ['event_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_lineage_event_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lineage_event_run_uid'), ['run_uid'], unique=False)

    with op.batch_alter_table('artifact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))

    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))

    with op.batch_alter_table('transform', schema=None) as batch_op:
        batch_op.add_column(sa.Column('namespace', sa.String(length=1024), server_default='', nullable=False))
        batch_op.add_column(sa.Column('facets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_transform_key_version'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_transform_namespace_key_version'), ['namespace', 'key', 'version'])


def downgrade() -> None:
    with op.batch_alter_table('transform', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_transform_namespace_key_version'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_transform_key_version'), ['key', 'version'])
        batch_op.drop_column('facets')
        batch_op.drop_column('namespace')

    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_column('facets')

    with op.batch_alter_table('artifact', schema=None) as batch_op:
        batch_op.drop_column('facets')

    with op.batch_alter_table('lineage_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lineage_event_run_uid'))
        batch_op.drop_index(batch_op.f('ix_lineage_event_received_at'))
        batch_op.drop_index(batch_op.f('ix_lineage_event_event_time'))

    op.drop_table('lineage_event')
