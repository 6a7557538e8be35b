"""Persistence: models, sessions, migrations, archive and encryption at rest.

Only this package opens database sessions and only `storage.archive` talks to S3.
"""
