"""run output links: every run that wrote or forwarded an artifact, besides its first producer

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'run_output',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('artifact_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['artifact_id'], ['artifact.id'], name=op.f('fk_run_output_artifact_id_artifact'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_run_output_run_id_run'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'artifact_id', name=op.f('pk_run_output')),
    )
    with op.batch_alter_table('run_output', schema=None) as batch_op:
        batch_op.create_index('ix_run_output_artifact_run', ['artifact_id', 'run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run_output', schema=None) as batch_op:
        batch_op.drop_index('ix_run_output_artifact_run')
    op.drop_table('run_output')
