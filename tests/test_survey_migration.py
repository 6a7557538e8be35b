"""Migration 0006 (surveys) goes up, down to 0005 and up again (SQLite, and PostgreSQL with
HEARTH_TEST_DATABASE_URL)."""

from alembic import command
from sqlalchemy import inspect

from storage import migrate
from tests.test_outbox_migration import blank_database

SURVEY_TABLES = {"survey_run", "survey_participation", "survey_buffer", "survey_answer", "survey_count",
                 "survey_comment", "survey_release"}


def test_surveys_migration_goes_up_down_and_up(tmp_path):
    with blank_database(tmp_path) as db:
        migrate.upgrade(db)
        assert SURVEY_TABLES <= set(inspect(db.engine).get_table_names())
        answer_columns = {c["name"] for c in inspect(db.engine).get_columns("survey_answer")}
        assert answer_columns == {"id", "run_id", "question_id", "value", "labels"}  # no member, no time
        command.downgrade(migrate._config(db), "0005")
        assert not SURVEY_TABLES & set(inspect(db.engine).get_table_names())
        migrate.upgrade(db)
        assert migrate.is_up_to_date(db)
