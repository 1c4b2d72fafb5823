"""how a registration was made: NULL by a command, or a neutral word for a platform's own
gesture (``interested``: a mark on a server's event), so a re-sync touches only its own

Revision ID: 0005_registration_via
Revises: 0004_people_prefs
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_registration_via"
down_revision: str | Sequence[str] | None = "0004_people_prefs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("via", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("via")
