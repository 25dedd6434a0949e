"""study handles

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-05

A short, unique-for-the-night handle per study ("h03-12") that people read and type
instead of the StudyInstanceUID; studies already stored get theirs here, numbered by
site and day exactly as the gateway numbers new ones (`garde.store.handles`).

"""
from collections import defaultdict
from datetime import UTC, datetime
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from garde.store.handles import day_start, handle_for


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _aware(value: datetime | str) -> datetime:
    """A stored time as aware UTC (SQLite returns naive values, or text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('studies', sa.Column('handle', sa.String(length=80), nullable=True))
    op.create_index('ix_studies_handle', 'studies', ['handle'], unique=False)
    op.create_index(
        'ix_studies_site_id_first_received_at',
        'studies',
        ['site_id', 'first_received_at'],
        unique=False,
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text('SELECT id, site_id, first_received_at FROM studies ORDER BY first_received_at, id')
    ).all()
    counts: dict[tuple[str, datetime], int] = defaultdict(int)
    for row_id, site_id, received in rows:
        key = (site_id, day_start(_aware(received)))
        counts[key] += 1
        connection.execute(
            sa.text('UPDATE studies SET handle = :handle WHERE id = :id'),
            {'handle': handle_for(site_id, counts[key]), 'id': row_id},
        )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_studies_site_id_first_received_at', table_name='studies')
    op.drop_index('ix_studies_handle', table_name='studies')
    with op.batch_alter_table('studies') as batch_op:
        batch_op.drop_column('handle')
