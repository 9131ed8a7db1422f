"""authority (issue 17): people an import declares are declared, not authorized (3.7)

- `declared_person`: the administrator and alternate an inventory import names (3.4(d)); they
  count for completeness and wait for the head's written authorization.
- `account_change.late`: a change entered more than 10 days after it was made (3.6).
- Data: every authorization an import granted (reference "3.4 inventory import, row N") and still
  in force becomes a declaration; the authorization is withdrawn with that reason, nothing is
  deleted. `smgov db upgrade` says how many.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMPORTED = "3.4 inventory import, row %"
WHY = "an import is not a written authorization (3.7): declared, awaiting the head"


def upgrade() -> None:
    """Upgrade schema, then turn authorizations granted by imports into declarations."""
    op.create_table(
        "declared_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("staff_index", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("declared_by", sa.String(length=20), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authorization_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["staff_index"], ["staff.index_number"]),
        sa.ForeignKeyConstraint(["authorization_id"], ["written_authorization.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("declared_person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_declared_person_account_id"), ["account_id"], unique=False
        )
    with op.batch_alter_table("account_change", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        sa.text(
            "INSERT INTO declared_person (account_id, staff_index, role, declared_by, "
            "declared_at, source) SELECT account_id, staff_index, role, granted_by, granted_at, "
            "reference FROM written_authorization WHERE reference LIKE :imported "
            "AND revoked_at IS NULL"
        ).bindparams(imported=IMPORTED)
    )
    op.execute(
        sa.text(
            "UPDATE written_authorization SET revoked_at = granted_at, revoked_by = 'migration', "
            "revoked_reason = :why WHERE reference LIKE :imported AND revoked_at IS NULL"
        ).bindparams(imported=IMPORTED, why=WHY)
    )


def downgrade() -> None:
    """Downgrade schema (the withdrawn import grants stay withdrawn: nothing is re-granted)."""
    with op.batch_alter_table("account_change", schema=None) as batch_op:
        batch_op.drop_column("late")
    with op.batch_alter_table("declared_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declared_person_account_id"))
    op.drop_table("declared_person")
