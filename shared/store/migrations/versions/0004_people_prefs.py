"""people's time zone and language (chosen per person, reported per account); calendar SEQUENCE

Revision ID: 0004_people_prefs
Revises: 0004_post_refs

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_people_prefs"
down_revision: str | Sequence[str] | None = "0004_post_refs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("zone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("zone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("calendar_sequence", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "platform_events",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=50), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace", "session_id", name=op.f("pk_platform_events")),
    )


def downgrade() -> None:
    op.drop_table("platform_events")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("calendar_sequence")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("locale")
        batch.drop_column("zone")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("locale")
        batch.drop_column("zone")
