"""obligations: a partial index of open duties in place of (state, next_stage_at)

The sweep rewrites `next_stage_at` on every duty it reminds (100k rows in a system-wide sweep).
With `next_stage_at` out of every index and room left on each page (fillfactor 70), PostgreSQL
updates those rows in place (HOT) instead of inserting into each of the table's indexes again;
SQLite writes one index fewer per row. Open duties are found through the partial index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("obligation", schema=None) as batch_op:
        batch_op.drop_index("ix_obligation_sweep")
        batch_op.create_index(
            "ix_obligation_open", ["due_at"], sqlite_where=OPEN, postgresql_where=OPEN
        )
    if op.get_bind().dialect.name == "postgresql":
        # New and rewritten pages keep 30% free for in-place updates.
        op.execute("ALTER TABLE obligation SET (fillfactor = 70)")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE obligation RESET (fillfactor)")
    with op.batch_alter_table("obligation", schema=None) as batch_op:
        batch_op.drop_index("ix_obligation_open", sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index("ix_obligation_sweep", ["state", "next_stage_at"], unique=False)
