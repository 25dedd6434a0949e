"""study attributes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

Patient context and the study-level attributes DICOMweb answers with (issue 13), one
row per study, read from its first stored instance; indexes for the QIDO-RS matching
keys AccessionNumber and StudyDate (PatientID goes through the patient key's index, 0010).
Studies already stored get their row when first asked for (`garde.services.study_attributes`).

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'study_attributes',
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('study_date', sa.String(length=8), nullable=False),
        sa.Column('study_time', sa.String(length=16), nullable=False),
        sa.Column('patient_name', sa.String(length=256), nullable=False),
        sa.Column('patient_sex', sa.String(length=16), nullable=False),
        sa.Column('patient_age', sa.String(length=16), nullable=False),
        sa.Column('patient_birth_date', sa.String(length=8), nullable=False),
        sa.Column('referring_physician', sa.String(length=256), nullable=False),
        sa.Column('requesting_physician', sa.String(length=256), nullable=False),
        sa.Column('indication', sa.Text(), nullable=False),
        sa.Column('dataset', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ['study_id'], ['studies.id'], name='fk_study_attributes_study_id_studies'
        ),
        sa.PrimaryKeyConstraint('study_id', name='pk_study_attributes'),
    )
    op.create_index(
        'ix_study_attributes_study_date', 'study_attributes', ['study_date'], unique=False
    )
    op.create_index('ix_studies_accession', 'studies', ['accession'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_studies_accession', table_name='studies')
    op.drop_index('ix_study_attributes_study_date', table_name='study_attributes')
    op.drop_table('study_attributes')
