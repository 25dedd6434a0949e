"""study released_by

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Who last released a study (`garde release`), so that the router's later moves never give
it straight back to them.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('studies', sa.Column('released_by', sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('studies') as batch_op:
        batch_op.drop_column('released_by')
