"""report return and priors

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

The report goes back to the hospital (issue 14): reports, delivered through the outbox
(a channel, a destination and a deduplication key per row: exactly one row per object
and destination), and the priors fetched from the hospital's PACS for a new study.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('reports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('study_uid', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('conclusion', sa.Text(), nullable=False),
    sa.Column('critical', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('final_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('amends_id', sa.Integer(), nullable=True),
    sa.Column('sr_uid', sa.String(length=64), nullable=True),
    sa.Column('pdf_uid', sa.String(length=64), nullable=True),
    sa.Column('control_id', sa.String(length=64), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['amends_id'], ['reports.id'], name=op.f('fk_reports_amends_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('study_uid', 'number', name='uq_reports_study_number')
    )
    op.create_index(op.f('ix_reports_study_uid'), 'reports', ['study_uid'], unique=False)
    op.create_table('prior_lookups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('study_uid', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('found', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('retrieved', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prior_lookups')),
    sa.UniqueConstraint('study_uid', name=op.f('uq_prior_lookups_study_uid'))
    )
    op.create_table('priors',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('study_uid', sa.String(length=64), nullable=False),
    sa.Column('prior_uid', sa.String(length=64), nullable=False),
    sa.Column('study_date', sa.String(length=8), nullable=False),
    sa.Column('modalities', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=256), nullable=False),
    sa.Column('instances', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('retrieved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refused', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_priors')),
    sa.UniqueConstraint('study_uid', 'prior_uid', name='uq_priors_study_uid_prior_uid')
    )
    op.create_index(op.f('ix_priors_study_uid'), 'priors', ['study_uid'], unique=False)
    with op.batch_alter_table('webhook_outbox') as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default=sa.text("'webhook'"), nullable=False))
        batch_op.add_column(sa.Column('destination', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('report_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_webhook_outbox_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_outbox_report_id'), ['report_id'], unique=False)
        batch_op.create_unique_constraint('uq_outbox_delivery', ['channel', 'destination', 'dedupe_key'])
        batch_op.create_foreign_key(batch_op.f('fk_webhook_outbox_report_id_reports'), 'reports', ['report_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('webhook_outbox') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_webhook_outbox_report_id_reports'), type_='foreignkey')
        batch_op.drop_constraint('uq_outbox_delivery', type_='unique')
        batch_op.drop_index(batch_op.f('ix_webhook_outbox_report_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_outbox_channel'))
        batch_op.drop_column('report_id')
        batch_op.drop_column('dedupe_key')
        batch_op.drop_column('destination')
        batch_op.drop_column('channel')
    op.drop_index(op.f('ix_priors_study_uid'), table_name='priors')
    op.drop_table('priors')
    op.drop_table('prior_lookups')
    op.drop_index(op.f('ix_reports_study_uid'), table_name='reports')
    op.drop_table('reports')
