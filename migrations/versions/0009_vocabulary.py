"""One vocabulary of sexes and age bands: applications' planned beneficiaries take the codes of reports,
statements and exports (fund.grant_directory): "other" -> "other_or_not_recorded", "18_24" -> "18-24", "60_plus" -> "60+".

Revision ID: 0009_vocabulary
Revises: 0008_merge
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_vocabulary"
down_revision = "0008_merge"
branch_labels = None
depends_on = None

SEXES = {"other": "other_or_not_recorded"}
AGE_BANDS = {"0_11": "0-11", "12_17": "12-17", "18_24": "18-24", "25_59": "25-59", "60_plus": "60+"}

beneficiary = sa.table("application_beneficiary", sa.column("sex", sa.String), sa.column("age_band", sa.String))


def _rename(column: str, mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(beneficiary.update().where(beneficiary.c[column] == old).values({column: new}))


def upgrade():
    with op.batch_alter_table("application_beneficiary") as batch:
        batch.alter_column("sex", existing_type=sa.String(16), type_=sa.String(32), existing_nullable=False)
    _rename("sex", SEXES)
    _rename("age_band", AGE_BANDS)


def downgrade():
    _rename("sex", {new: old for old, new in SEXES.items()})
    _rename("age_band", {new: old for old, new in AGE_BANDS.items()})
    with op.batch_alter_table("application_beneficiary") as batch:
        batch.alter_column("sex", existing_type=sa.String(32), type_=sa.String(16), existing_nullable=False)
