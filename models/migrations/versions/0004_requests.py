"""requests survey acknowledgements

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "survey_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization", sa.String(length=100), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("handle", sa.String(length=260), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("languages", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "url", name="uq_survey_platform_url"),
    )
    op.create_table(
        "account_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_code", sa.String(length=20), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("handle", sa.String(length=260), nullable=False),
        sa.Column("languages", sa.String(length=200), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("survey", sa.Text(), nullable=True),
        sa.Column("parity", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=20), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["entity_code"],
            ["entity.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("account_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_request_entity_code"), ["entity_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_account_request_state"), ["state"], unique=False)

    op.create_table(
        "request_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("by", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["account_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("request_transition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_transition_request_id"), ["request_id"], unique=False
        )

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.alter_column("url", existing_type=sa.VARCHAR(length=2048), nullable=True)

    with op.batch_alter_table("written_authorization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("written_authorization", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_at")

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.alter_column("url", existing_type=sa.VARCHAR(length=2048), nullable=False)

    with op.batch_alter_table("request_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_transition_request_id"))

    op.drop_table("request_transition")
    with op.batch_alter_table("account_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_request_state"))
        batch_op.drop_index(batch_op.f("ix_account_request_entity_code"))

    op.drop_table("account_request")
    op.drop_table("survey_account")
