"""features labels projects collections schemas

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project')),
    sa.UniqueConstraint('name', name=op.f('uq_project_name')),
    sa.UniqueConstraint('uid', name=op.f('uq_project_uid'))
    )
    op.create_table('collection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=1024), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('n_artifacts', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_latest', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_collection_run_id_run'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_collection_key_version')),
    sa.UniqueConstraint('uid', name=op.f('uq_collection_uid'))
    )
    with op.batch_alter_table('collection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collection_hash'), ['hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_collection_is_latest'), ['is_latest'], unique=False)
        batch_op.create_index(batch_op.f('ix_collection_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_collection_run_id'), ['run_id'], unique=False)

    op.create_table('label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('is_type', sa.Boolean(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('reference', sa.String(length=1024), nullable=True),
    sa.Column('reference_type', sa.String(length=64), nullable=True),
    sa.Column('ontology_id', sa.String(length=128), nullable=True),
    sa.Column('synonyms', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_label_run_id_run'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['type_id'], ['label.id'], name=op.f('fk_label_type_id_label'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label')),
    sa.UniqueConstraint('uid', name=op.f('uq_label_uid'))
    )
    with op.batch_alter_table('label', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_label_ontology_id'), ['ontology_id'], unique=False)
        batch_op.create_index('ix_label_type_name', ['type_id', 'name'], unique=False)

    op.create_table('feature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('dtype', sa.String(length=255), nullable=False),
    sa.Column('label_type_id', sa.Integer(), nullable=True),
    sa.Column('unit', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['label_type_id'], ['label.id'], name=op.f('fk_feature_label_type_id_label'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_feature_run_id_run'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feature')),
    sa.UniqueConstraint('name', name=op.f('uq_feature_name')),
    sa.UniqueConstraint('uid', name=op.f('uq_feature_uid'))
    )
    op.create_table('label_parent',
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['label.id'], name=op.f('fk_label_parent_child_id_label'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['label.id'], name=op.f('fk_label_parent_parent_id_label'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('child_id', 'parent_id', name=op.f('pk_label_parent'))
    )
    with op.batch_alter_table('label_parent', schema=None) as batch_op:
        batch_op.create_index('ix_label_parent_parent', ['parent_id', 'child_id'], unique=False)

    op.create_table('schema',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('otype', sa.String(length=64), nullable=True),
    sa.Column('itype', sa.String(length=255), nullable=False),
    sa.Column('itype_label_id', sa.Integer(), nullable=True),
    sa.Column('dtype', sa.String(length=255), nullable=True),
    sa.Column('minimal_set', sa.Boolean(), nullable=False),
    sa.Column('maximal_set', sa.Boolean(), nullable=False),
    sa.Column('ordered_set', sa.Boolean(), nullable=False),
    sa.Column('coerce_dtype', sa.Boolean(), nullable=False),
    sa.Column('n_features', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['itype_label_id'], ['label.id'], name=op.f('fk_schema_itype_label_id_label'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_schema_run_id_run'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schema')),
    sa.UniqueConstraint('hash', name=op.f('uq_schema_hash')),
    sa.UniqueConstraint('uid', name=op.f('uq_schema_uid'))
    )
    with op.batch_alter_table('schema', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schema_name'), ['name'], unique=False)

    op.create_table('schema_component',
    sa.Column('schema_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.String(length=64), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['component_id'], ['schema.id'], name=op.f('fk_schema_component_component_id_schema'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['schema_id'], ['schema.id'], name=op.f('fk_schema_component_schema_id_schema'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schema_id', 'slot', name=op.f('pk_schema_component'))
    )
    op.create_table('schema_feature',
    sa.Column('schema_id', sa.Integer(), nullable=False),
    sa.Column('feature_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['feature_id'], ['feature.id'], name=op.f('fk_schema_feature_feature_id_feature'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['schema_id'], ['schema.id'], name=op.f('fk_schema_feature_schema_id_schema'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schema_id', 'feature_id', name=op.f('pk_schema_feature'))
    )
    with op.batch_alter_table('schema_feature', schema=None) as batch_op:
        batch_op.create_index('ix_schema_feature_feature', ['feature_id'], unique=False)

    op.create_table('artifact_feature_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('feature_id', sa.Integer(), nullable=False),
    sa.Column('value_num', sa.Float(), nullable=True),
    sa.Column('value_str', sa.String(length=1000), nullable=True),
    sa.Column('value_json', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifact.id'], name=op.f('fk_artifact_feature_value_artifact_id_artifact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['feature_id'], ['feature.id'], name=op.f('fk_artifact_feature_value_feature_id_feature'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_feature_value'))
    )
    with op.batch_alter_table('artifact_feature_value', schema=None) as batch_op:
        batch_op.create_index('ix_artifact_feature_value_artifact', ['artifact_id', 'feature_id'], unique=False)
        batch_op.create_index('ix_artifact_feature_value_num', ['feature_id', 'value_num', 'artifact_id'], unique=False)
        batch_op.create_index('ix_artifact_feature_value_str', ['feature_id', 'value_str', 'artifact_id'], unique=False)

    op.create_table('artifact_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('label_id', sa.Integer(), nullable=False),
    sa.Column('feature_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifact.id'], name=op.f('fk_artifact_label_artifact_id_artifact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['feature_id'], ['feature.id'], name=op.f('fk_artifact_label_feature_id_feature'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['label_id'], ['label.id'], name=op.f('fk_artifact_label_label_id_label'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_label'))
    )
    with op.batch_alter_table('artifact_label', schema=None) as batch_op:
        batch_op.create_index('ix_artifact_label_artifact', ['artifact_id', 'feature_id'], unique=False)
        batch_op.create_index('ix_artifact_label_label', ['label_id', 'feature_id', 'artifact_id'], unique=False)

    op.create_table('artifact_project',
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifact.id'], name=op.f('fk_artifact_project_artifact_id_artifact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_artifact_project_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('artifact_id', 'project_id', name=op.f('pk_artifact_project'))
    )
    with op.batch_alter_table('artifact_project', schema=None) as batch_op:
        batch_op.create_index('ix_artifact_project_project', ['project_id', 'artifact_id'], unique=False)

    op.create_table('collection_artifact',
    sa.Column('collection_id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifact.id'], name=op.f('fk_collection_artifact_artifact_id_artifact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['collection_id'], ['collection.id'], name=op.f('fk_collection_artifact_collection_id_collection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('collection_id', 'artifact_id', name=op.f('pk_collection_artifact'))
    )
    with op.batch_alter_table('collection_artifact', schema=None) as batch_op:
        batch_op.create_index('ix_collection_artifact_artifact', ['artifact_id', 'collection_id'], unique=False)

    with op.batch_alter_table('artifact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schema_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_artifact_schema_id_schema'), 'schema', ['schema_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_run_project_id'), ['project_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_run_project_id_project'), 'project', ['project_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_run_project_id_project'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_run_project_id'))
        batch_op.drop_column('project_id')

    with op.batch_alter_table('artifact', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_artifact_schema_id_schema'), type_='foreignkey')
        batch_op.drop_column('schema_id')

    with op.batch_alter_table('collection_artifact', schema=None) as batch_op:
        batch_op.drop_index('ix_collection_artifact_artifact')

    op.drop_table('collection_artifact')
    with op.batch_alter_table('artifact_project', schema=None) as batch_op:
        batch_op.drop_index('ix_artifact_project_project')

    op.drop_table('artifact_project')
    with op.batch_alter_table('artifact_label', schema=None) as batch_op:
        batch_op.drop_index('ix_artifact_label_label')
        batch_op.drop_index('ix_artifact_label_artifact')

    op.drop_table('artifact_label')
    with op.batch_alter_table('artifact_feature_value', schema=None) as batch_op:
        batch_op.drop_index('ix_artifact_feature_value_str')
        batch_op.drop_index('ix_artifact_feature_value_num')
        batch_op.drop_index('ix_artifact_feature_value_artifact')

    op.drop_table('artifact_feature_value')
    with op.batch_alter_table('schema_feature', schema=None) as batch_op:
        batch_op.drop_index('ix_schema_feature_feature')

    op.drop_table('schema_feature')
    op.drop_table('schema_component')
    with op.batch_alter_table('schema', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schema_name'))

    op.drop_table('schema')
    with op.batch_alter_table('label_parent', schema=None) as batch_op:
        batch_op.drop_index('ix_label_parent_parent')

    op.drop_table('label_parent')
    op.drop_table('feature')
    with op.batch_alter_table('label', schema=None) as batch_op:
        batch_op.drop_index('ix_label_type_name')
        batch_op.drop_index(batch_op.f('ix_label_ontology_id'))
        batch_op.drop_index(batch_op.f('ix_label_name'))

    op.drop_table('label')
    with op.batch_alter_table('collection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collection_run_id'))
        batch_op.drop_index(batch_op.f('ix_collection_key'))
        batch_op.drop_index(batch_op.f('ix_collection_is_latest'))
        batch_op.drop_index(batch_op.f('ix_collection_hash'))

    op.drop_table('collection')
    op.drop_table('project')
