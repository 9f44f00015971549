"""lineage and ingest indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('artifact', schema=None) as batch_op:
        batch_op.create_index('ix_artifact_family_latest', ['storage_id', 'key', 'is_latest'], unique=False)
        batch_op.create_index('ix_artifact_family_run', ['storage_id', 'key', 'run_id'], unique=False)

    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.create_index('ix_run_transform_started', ['transform_id', 'started_at'], unique=False)

    with op.batch_alter_table('run_input', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_input_artifact_id'))
        batch_op.create_index('ix_run_input_artifact_run', ['artifact_id', 'run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run_input', schema=None) as batch_op:
        batch_op.drop_index('ix_run_input_artifact_run')
        batch_op.create_index(batch_op.f('ix_run_input_artifact_id'), ['artifact_id'], unique=False)

    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index('ix_run_transform_started')

    with op.batch_alter_table('artifact', schema=None) as batch_op:
        batch_op.drop_index('ix_artifact_family_run')
        batch_op.drop_index('ix_artifact_family_latest')
