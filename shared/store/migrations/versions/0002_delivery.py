"""delivery: short leases, priorities, a claim index that serves the claim's order

Revision ID: 0002_delivery
Revises: 0001

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_delivery"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("unsure", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.drop_index("ix_outbox_due")
        batch.create_index("ix_outbox_claim", ["state", "platform", "priority", "due_at", "id"])
    op.execute("UPDATE outbox SET priority = 1 WHERE kind IN ('announcement', 'insight')")
    # claims of the old at-most-once dispatcher: their fate is unknown, so check before resending
    op.execute(
        "UPDATE outbox SET state = 'pending', unsure = "
        + ("true" if op.get_bind().dialect.name == "postgresql" else "1")
        + ", claimed_by = NULL WHERE state = 'sending'"
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_claim")
        batch.create_index("ix_outbox_due", ["state", "due_at"])
        batch.drop_column("unsure")
        batch.drop_column("priority")
        batch.drop_column("lease_until")
