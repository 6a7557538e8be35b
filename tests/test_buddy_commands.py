"""`/buddies` with no program, help or an unknown word: a private answer, and nothing recorded or sent."""

from __future__ import annotations

from tests.privacy import database_dump


def test_buddies_help_and_unknown_subcommands_answer_privately_and_record_nothing(driver, simulator, db):
    simulator.clear_calls()
    before = database_dump(db)
    for text in ("", "help", "anything"):
        resp = driver.command("UBOB", "/buddies", text=text)
        assert resp.status == 200
        assert resp.json["response_type"] == "ephemeral"
        assert "/buddies skip" in resp.json["text"] and "/buddies never @someone" in resp.json["text"]
    assert "no buddy introductions" in driver.command("UBOB", "/buddies", text="skip").json["text"]
    assert simulator.calls == []
    assert database_dump(db) == before
