"""the organizer's whole event: cancelled sessions, registration answers, feedback, tallies and erasures

Revision ID: 0003_organizer
Revises: 0002_delivery
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_organizer"
# re-chained onto 0002_delivery when issue 10 lands
down_revision: str | Sequence[str] | None = "0002_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("cancelled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("feedback_asked", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("answers", sa.Text(), nullable=True))
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=50), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_feedback_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("session_id", "person_id", name="uq_feedback_once"),
    )
    op.create_index(op.f("ix_feedback_person_id"), "feedback", ["person_id"], unique=False)
    op.create_table(
        "tallies",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_tallies")),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_person_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("erasures")
    op.drop_table("tallies")
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("answers")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("feedback_asked")
        batch.drop_column("cancelled")
