"""series declared count

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

Issue 12 item 6: how many instances a series declares it holds (Number of Series Related
Instances, else Images in Acquisition, read from the header the gateway parses). A stroke's
first series is complete the moment that many are stored, without waiting for its quiet
window; NULL where the modality declares nothing (the quiet window alone then applies).

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('series', sa.Column('declared_count', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('series') as batch:
        batch.drop_column('declared_count')
