"""how a registration was made: NULL by a command, or a neutral word for a platform's own
gesture (``interested``: a mark on a server's event), so a re-sync touches only its own;
and ``marks``, the gestures acted on, so a follow given back by command stays given back

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
    op.create_table(
        "marks",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=50), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name=op.f("fk_marks_session_id_sessions")),
        sa.PrimaryKeyConstraint("account", "session_id", "via", name=op.f("pk_marks")),
    )


def downgrade() -> None:
    op.drop_table("marks")
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("via")
