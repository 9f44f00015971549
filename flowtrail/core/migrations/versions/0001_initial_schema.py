"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('environment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('python_version', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=256), nullable=False),
    sa.Column('packages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_environment')),
    sa.UniqueConstraint('hash', name=op.f('uq_environment_hash'))
    )
    op.create_table('setting',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_setting'))
    )
    op.create_table('storage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=12), nullable=False),
    sa.Column('root', sa.String(length=1024), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storage')),
    sa.UniqueConstraint('root', name=op.f('uq_storage_root')),
    sa.UniqueConstraint('uid', name=op.f('uq_storage_uid'))
    )
    op.create_table('transform',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=1024), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_latest', sa.Boolean(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source_code', sa.Text(), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=True),
    sa.Column('reference', sa.String(length=1024), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['transform.id'], name=op.f('fk_transform_parent_id_transform'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transform')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_transform_key_version')),
    sa.UniqueConstraint('uid', name=op.f('uq_transform_uid'))
    )
    with op.batch_alter_table('transform', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transform_hash'), ['hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_transform_is_latest'), ['is_latest'], unique=False)
        batch_op.create_index(batch_op.f('ix_transform_key'), ['key'], unique=False)

    op.create_table('run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=True),
    sa.Column('transform_id', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=1024), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('environment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(['environment_id'], ['environment.id'], name=op.f('fk_run_environment_id_environment')),
    sa.ForeignKeyConstraint(['parent_id'], ['run.id'], name=op.f('fk_run_parent_id_run'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['transform_id'], ['transform.id'], name=op.f('fk_run_transform_id_transform')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run')),
    sa.UniqueConstraint('uid', name=op.f('uq_run_uid'))
    )
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_reference'), ['reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_transform_id'), ['transform_id'], unique=False)

    op.create_table('artifact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=1024), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('suffix', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('otype', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=True),
    sa.Column('hash_type', sa.String(length=32), nullable=True),
    sa.Column('n_files', sa.Integer(), nullable=True),
    sa.Column('n_observations', sa.BigInteger(), nullable=True),
    sa.Column('storage_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=2048), nullable=False),
    sa.Column('is_managed', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_latest', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_artifact_run_id_run'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['storage_id'], ['storage.id'], name=op.f('fk_artifact_storage_id_storage')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact')),
    sa.UniqueConstraint('storage_id', 'key', 'version', name=op.f('uq_artifact_storage_id_key_version')),
    sa.UniqueConstraint('uid', name=op.f('uq_artifact_uid'))
    )
    with op.batch_alter_table('artifact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_hash'), ['hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_is_latest'), ['is_latest'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_storage_id'), ['storage_id'], unique=False)

    op.create_table('run_input',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifact.id'], name=op.f('fk_run_input_artifact_id_artifact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_run_input_run_id_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'artifact_id', name=op.f('pk_run_input'))
    )
    with op.batch_alter_table('run_input', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_input_artifact_id'), ['artifact_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('run_input', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_input_artifact_id'))

    op.drop_table('run_input')
    with op.batch_alter_table('artifact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_storage_id'))
        batch_op.drop_index(batch_op.f('ix_artifact_run_id'))
        batch_op.drop_index(batch_op.f('ix_artifact_key'))
        batch_op.drop_index(batch_op.f('ix_artifact_is_latest'))
        batch_op.drop_index(batch_op.f('ix_artifact_hash'))

    op.drop_table('artifact')
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_transform_id'))
        batch_op.drop_index(batch_op.f('ix_run_status'))
        batch_op.drop_index(batch_op.f('ix_run_reference'))
        batch_op.drop_index(batch_op.f('ix_run_parent_id'))

    op.drop_table('run')
    with op.batch_alter_table('transform', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transform_key'))
        batch_op.drop_index(batch_op.f('ix_transform_is_latest'))
        batch_op.drop_index(batch_op.f('ix_transform_hash'))

    op.drop_table('transform')
    op.drop_table('storage')
    op.drop_table('setting')
    op.drop_table('environment')
