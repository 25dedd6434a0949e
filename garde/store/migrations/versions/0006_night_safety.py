"""night safety

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-05

Issue 12: the region's medical director among the radiologists; operator pins and the
last "unassigned" notice on studies; notifications tied to their study (retried while
it is open), acknowledged or escalated.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('radiologists', sa.Column('medical_director', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('studies', sa.Column('pinned_by', sa.String(length=64), nullable=True))
    op.add_column('studies', sa.Column('unassigned_notice_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('webhook_outbox', sa.Column('study_uid', sa.String(length=64), nullable=True))
    op.add_column('webhook_outbox', sa.Column('priority', sa.String(length=16), nullable=True))
    op.add_column('webhook_outbox', sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('webhook_outbox', sa.Column('acked_by', sa.String(length=64), nullable=True))
    op.add_column('webhook_outbox', sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_webhook_outbox_study_uid'), 'webhook_outbox', ['study_uid'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_webhook_outbox_study_uid'), table_name='webhook_outbox')
    with op.batch_alter_table('webhook_outbox') as batch_op:
        for column in ('escalated_at', 'acked_by', 'acked_at', 'priority', 'study_uid'):
            batch_op.drop_column(column)
    with op.batch_alter_table('studies') as batch_op:
        batch_op.drop_column('unassigned_notice_at')
        batch_op.drop_column('pinned_by')
    with op.batch_alter_table('radiologists') as batch_op:
        batch_op.drop_column('medical_director')
