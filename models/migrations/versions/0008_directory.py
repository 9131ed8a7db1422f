"""directory provisioning (SCIM): staff from the identity provider, entity aliases, codes
case-insensitive

Staff gain the identity provider's userName, the department it named that no entity answers to
(unplaced staff have no entity yet, so `entity_code` becomes nullable), a version (ETag) and a
last-modified time. `entity_alias` maps a directory's department names to entities. Entity codes
are unique whatever their case (`dgc` is `DGC`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "entity_alias",
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("directory_name", sa.String(length=200), nullable=False),
        sa.Column("entity_code", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entity_code"], ["entity.code"]),
        sa.PrimaryKeyConstraint("name_key"),
    )
    op.create_index("ix_entity_alias_entity_code", "entity_alias", ["entity_code"])
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.alter_column("entity_code", existing_type=sa.String(length=20), nullable=True)
        batch_op.add_column(sa.Column("user_name", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("directory_department", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("modified_at", UTCDateTime(), nullable=True))
    op.create_index("uq_entity_code_upper", "entity", [sa.text("upper(code)")], unique=True)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("uq_entity_code_upper", table_name="entity")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("modified_at")
        batch_op.drop_column("version")
        batch_op.drop_column("directory_department")
        batch_op.drop_column("user_name")
        batch_op.alter_column("entity_code", existing_type=sa.String(length=20), nullable=False)
    op.drop_index("ix_entity_alias_entity_code", table_name="entity_alias")
    op.drop_table("entity_alias")
