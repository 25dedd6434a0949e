"""cluster state

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Issue 12 items 4 and 5: what several `garde serve` nodes on one database share besides
the studies. ``store_generations`` holds a counter per kind of change (the roster, the
configuration); every node watches it and reloads what changed, so a roster edit or a
`garde reload` reaches every node. ``leader_lease`` is the job leader's lease: a row
with its holder and expiry, renewed every second and taken by a conditional UPDATE.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    generations = op.create_table(
        'store_generations',
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('generation', sa.BigInteger(), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('kind', name=op.f('pk_store_generations')),
    )
    # Seeded: a bump is then always an UPDATE (never two nodes inserting the same row).
    op.bulk_insert(
        generations,
        [{'kind': 'roster', 'generation': 0}, {'kind': 'config', 'generation': 0}],
    )
    leases = op.create_table(
        'leader_lease',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=128), nullable=True),
        sa.Column('epoch', sa.BigInteger(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('backend_pid', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_leader_lease')),
    )
    op.bulk_insert(leases, [{'name': 'jobs', 'epoch': 0}])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('leader_lease')
    op.drop_table('store_generations')
