"""reassessment activity closure

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "account_activity",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("last_post_on", sa.Date(), nullable=True),
        sa.Column("posts_per_month", sa.Float(), nullable=True),
        sa.Column("followers", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.PrimaryKeyConstraint("account_id"),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("closure_evidence", sa.Text(), nullable=True))

    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("why", sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_column("why")

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("closure_evidence")
        batch_op.drop_column("closed_on")

    op.drop_table("account_activity")
