"""directory and patients

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Issue 18: the national directory's professionals (by RPPS number, never deleted by an
import), the RPPS number of each configured radiologist, and an index on the studies'
patient key (a keyed hash of the INS or of the hospital's PatientID) to find a
patient's other studies, across hospitals when the INS links them.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'directory_professionals',
        sa.Column('rpps', sa.String(length=11), nullable=False),
        sa.Column('last_name', sa.String(length=256), nullable=False),
        sa.Column('first_name', sa.String(length=256), nullable=False),
        sa.Column('title', sa.String(length=64), nullable=False),
        sa.Column('display_name', sa.String(length=256), nullable=False),
        sa.Column('profession', sa.String(length=64), nullable=False),
        sa.Column('specialties', sa.JSON(), nullable=False),
        sa.Column('specialty_labels', sa.JSON(), nullable=False),
        sa.Column('structures', sa.JSON(), nullable=False),
        sa.Column('first_imported_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('missing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('rpps', name=op.f('pk_directory_professionals')),
    )
    op.add_column('radiologists', sa.Column('rpps', sa.String(length=11), nullable=True))
    op.create_index(op.f('ix_radiologists_rpps'), 'radiologists', ['rpps'], unique=False)
    op.create_index('ix_studies_patient_key', 'studies', ['patient_key'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_studies_patient_key', table_name='studies')
    op.drop_index(op.f('ix_radiologists_rpps'), table_name='radiologists')
    with op.batch_alter_table('radiologists') as batch_op:
        batch_op.drop_column('rpps')
    op.drop_table('directory_professionals')
