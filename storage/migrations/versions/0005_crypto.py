"""Encrypted outbox: payloads become ciphertext (Text), and a row can be `sensitive` (recipient encrypted,
row deleted once delivered); `hearth_secret` keeps Hearth's own secrets sealed (the opaque-key secret).

Existing payloads stay readable as plain JSON until they are sent, or until `hearth keys rotate` seals them;
existing dedupe keys stay as they were (new ones are opaque keyed hashes).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hearth_secret",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("payload", existing_type=sa.JSON, type_=sa.Text, existing_nullable=False,
                           postgresql_using="payload::text")
        batch.add_column(sa.Column("sensitive", sa.Boolean, nullable=False, server_default=sa.false()))
    # Sent rows held `{}`; an empty string now says "nothing kept".
    op.execute("UPDATE outbox SET payload = '' WHERE payload = '{}'")


def downgrade() -> None:
    op.drop_table("hearth_secret")
    op.execute("DELETE FROM outbox WHERE sensitive")
    op.execute("UPDATE outbox SET payload = '{}' WHERE payload = '' OR payload LIKE 'gAAAAA%'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("sensitive")
        batch.alter_column("payload", existing_type=sa.Text, type_=sa.JSON, existing_nullable=False,
                           postgresql_using="payload::json")
