"""List indexes: hires by organisation and id, deadlines by organisation, status and due time, so a
list page (first or deep) reads one index range.

Revision ID: 246db3c1b2a0
Revises: 5c0a1f12d3e4
Create Date: 2026-12-01 16:14:05.188546
"""

from collections.abc import Sequence

from alembic import op


revision: str = "246db3c1b2a0"
down_revision: str | None = "5c0a1f12d3e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_deadlines_org_status_due', ['organisation_id', 'status', 'due_at', 'id'], unique=False)

    with op.batch_alter_table('hires', schema=None) as batch_op:
        batch_op.create_index('ix_hires_org_id', ['organisation_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hires', schema=None) as batch_op:
        batch_op.drop_index('ix_hires_org_id')

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_org_status_due')
