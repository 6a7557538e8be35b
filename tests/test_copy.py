"""Copy: overridable, sandboxed templates whose member-supplied values can never ping or inject."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2.exceptions import UndefinedError
from jinja2.sandbox import SecurityError
from markupsafe import Markup

from slack_app import blocks
from slack_app.copy import Copy, MissingTemplate, channel, format_date, format_time, mention

BUILT_IN = Path(__file__).resolve().parents[1] / "slack_app" / "templates"
WJ = blocks.WORD_JOINER

# The foundation templates, each with the context its callers give it.
SAMPLES = {
    "home_welcome.j2": {"user_id": "U0123ABC"},
    "help.j2": {},
    "not_ready.j2": {"command": "/buddies", "admins": ["U0ADMIN1", "U0ADMIN2"]},
    "no_tokens.j2": {},
    "unknown_action.j2": {},
    "error.j2": {"ref": "E42"},
}


def copy_with(tmp_path: Path, **templates: str) -> Copy:
    for name, source in templates.items():
        (tmp_path / f"{name}.j2").write_text(source)
    return Copy(tmp_path)


@pytest.fixture(scope="module")
def strict() -> Copy:
    return Copy(None, strict=True)  # our own templates must only use what their callers pass


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_foundation_templates_render_within_slacks_limits(strict, name):
    text = strict.render(name, **SAMPLES[name])
    assert text and text == text.strip()
    assert len(text) <= blocks.SECTION_TEXT
    blocks.home([blocks.section(text)])  # fits a section: no truncation, valid Block Kit
    assert blocks.section(text)["text"]["text"] == text


def test_every_built_in_template_compiles():
    env = Copy(None).env
    names = [p.name for p in BUILT_IN.glob("*.j2")]
    assert set(SAMPLES) <= set(names)
    for name in names:
        env.get_template(name)


def test_templates_with_optional_context_render_without_it(strict):
    assert "Thanks for trying `/report`!" in strict.render("not_ready.j2", command="/report", admins=[])
    assert "workspace admins" in strict.render("not_ready.j2", command="/report", admins=[])
    assert "<@U0ADMIN1>, <@U0ADMIN2> can switch it on" in strict.render("not_ready.j2", **SAMPLES["not_ready.j2"])
    assert "`/nope`" in strict.render("unknown_action.j2", command="/nope")
    assert "expired" in strict.render("unknown_action.j2", command=None)
    assert "reference" not in strict.render("error.j2", ref=None)


def test_no_tokens_is_two_lines_for_the_terminal():
    lines = Copy(None).text("no_tokens.j2").splitlines()
    assert len(lines) == 2
    assert "manifest.yml" in lines[0] and "https://api.slack.com/apps?new_app=1" in lines[0]
    assert all(var in lines[0] for var in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"))
    assert "hearth simulate" in lines[1]


def test_help_and_home_name_every_command():
    copy = Copy(None)
    for text in (copy.render("help.j2"), copy.render("home_welcome.j2", user_id="U1X")):
        assert all(command in text for command in ("/checkin", "/buddies", "/report"))
    assert "anonymous" in copy.render("home_welcome.j2", user_id="U1X")


# ---- overrides -------------------------------------------------------------------------------------------

def test_a_community_template_overrides_the_built_in_one(tmp_path):
    copy = copy_with(tmp_path, help="Hallo! Tippe `/checkin`.")
    assert copy.render("help.j2") == "Hallo! Tippe `/checkin`."
    assert "Thanks for trying" in copy.render("not_ready.j2", command="/buddies")  # the rest stay built in


def test_a_missing_template_names_itself_and_where_it_was_looked_for(tmp_path):
    with pytest.raises(MissingTemplate, match=r"'nope\.j2'.*" + str(tmp_path)):
        Copy(tmp_path).render("nope.j2")
    with pytest.raises(LookupError, match="built-in"):
        Copy(None).render("nope.j2")


@pytest.mark.parametrize("broken", ["{% if %}Hallo", "{{ ''.__class__.__mro__ }}"])
def test_a_broken_community_template_falls_back_to_the_built_in_wording(tmp_path, caplog, broken):
    copy = copy_with(tmp_path, help=broken)
    assert copy.render("help.j2") == Copy(None).render("help.j2")
    assert "copy.override_failed template=help.j2" in caplog.text


# ---- sandbox ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ items.append(1) }}",  # immutable: a template cannot change what it is given
])
def test_override_templates_cannot_reach_python_internals(tmp_path, source):
    copy = copy_with(tmp_path, evil=source)
    with pytest.raises(SecurityError):
        copy.render("evil.j2", items=[])


# ---- escaping --------------------------------------------------------------------------------------------

def test_member_values_render_harmlessly_while_template_mrkdwn_works(tmp_path):
    copy = copy_with(tmp_path, t="*{{ user_id|mention }}* in {{ channel_id|channel }} said: {{ note }} <!here>")
    text = copy.render("t.j2", user_id="U0123", channel_id="C0456", note="<!channel> @here <@U9> <https://x|y>")
    assert text == (f"*<@U0123>* in <#C0456> said: &lt;!channel&gt; @{WJ}here &lt;@U9&gt; "
                    "&lt;https://x|y&gt; <!here>")


def test_escaping_holds_through_concatenation_join_and_filters(tmp_path):
    copy = copy_with(tmp_path, t="{{ ('*' ~ (u|mention) ~ '* ' ~ note) }}|{{ notes|join(', ') }}|{{ note|upper }}")
    text = copy.render("t.j2", u="U1", note="it's \"<@U2>\" @channel", notes=["a&b", "<c>"])
    assert text == (f"*<@U1>* it's \"&lt;@U2&gt;\" @{WJ}channel|a&amp;b, &lt;c&gt;|"
                    f"IT'S \"&lt;@U2&gt;\" @{WJ}CHANNEL")


@pytest.fixture(scope="module")
def echo(tmp_path_factory) -> Copy:
    folder = tmp_path_factory.mktemp("echo")
    (folder / "echo.j2").write_text("{{ value }}")
    return Copy(folder)


@given(st.text())
def test_any_value_renders_exactly_as_escape_member_text(echo, value):
    assert echo.render("echo.j2", value=value) == blocks.escape_member_text(value).strip()


def test_markup_values_none_and_numbers(tmp_path):
    copy = copy_with(tmp_path, t="{{ when }}·{{ nothing }}·{{ n }}")
    assert copy.render("t.j2", when=Markup("<!date^1700000000^{date}|14 Nov>"), nothing=None, n=3) == (
        "<!date^1700000000^{date}|14 Nov>··3")


def test_plain_text_shows_values_as_typed(tmp_path):
    copy = copy_with(tmp_path, t="Snooze: {{ note }}")
    assert copy.text("t.j2", note="a < b & c > d") == "Snooze: a < b & c > d"
    assert copy.render("t.j2", note="a < b & c > d") == "Snooze: a &lt; b &amp; c &gt; d"


def test_undefined_values_are_blank_unless_strict(tmp_path):
    copy_with(tmp_path, t="Hi {{ missing }}!")
    assert Copy(tmp_path).render("t.j2") == "Hi !"
    with pytest.raises(UndefinedError):
        Copy(tmp_path, strict=True).render("t.j2")


# ---- filters ---------------------------------------------------------------------------------------------

def test_mention_and_channel_accept_ids_only():
    assert mention("U0123") == "<@U0123>" and mention("W0123") == "<@W0123>"
    assert channel("C0123") == "<#C0123>" and channel("G0123") == "<#G0123>"
    for bad in ("alice", "<!channel>", "U12>", "", None):
        with pytest.raises(ValueError, match="user id"):
            mention(bad)
    for bad in ("general", "D0123", "C1 <!here>"):
        with pytest.raises(ValueError, match="channel id"):
            channel(bad)


def test_date_and_time_on_the_readers_calendar(tmp_path):
    late = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)
    assert format_date(late) == "Mon 3 Mar 2025" and format_time(late) == "23:30"
    assert format_date(late, "Asia/Tokyo") == "Tue 4 Mar 2025" and format_time(late, "Asia/Tokyo") == "08:30"
    assert format_time(datetime(2025, 3, 3, 23, 30), "Europe/Berlin") == "00:30"  # naive means UTC
    assert format_date(date(2025, 12, 25)) == "Thu 25 Dec 2025"
    copy = copy_with(tmp_path, t="{{ at|date(tz) }} at {{ at|time(tz) }}")
    assert copy.render("t.j2", at=late, tz="America/New_York") == "Mon 3 Mar 2025 at 18:30"


# ---- reports ---------------------------------------------------------------------------------------------

REPORT_SAMPLES = {
    "report_who_sees.j2": {},
    "report_done.j2": {"number": 7, "receipt": "AB12-CD34", "anonymous": True, "follow_up": True},
    "report_card.j2": {"category": "Spam or scam", "urgency": "High", "status": "Acknowledged",
                       "assignee_id": "U0MOD", "reporter": "Reporter Wren-12", "opened": Markup("<!date^1^{date}|x>")},
    "report_question_dm.j2": {"number": 7, "question": "When did it start?"},
    "report_status_dm.j2": {"number": 7, "status": "resolved"},
    "report_admin_warning.j2": {"number": 7, "problem": "public"},
    "report_channel_answer.j2": {"outcome": "set"},
    "report_triage.j2": {"outcome": "claimed", "number": 7},
    "report_escalation.j2": {"number": 7, "urgency": "Urgent", "reason": "overdue", "broadcast": True},
    "report_digest.j2": {"total": 2, "unclaimed": 1, "groups": [("under a day", [2]), ("over a week", [1])]},
    "report_refused.j2": {},
    "report_could_not_open.j2": {},
    "report_errors.j2": {"field": "text", "code": "too_long", "text_max": 4000, "people_max": 10, "note_max": 3000},
}

# every part of report_labels.j2 the reports views ask for, with the context they give it
REPORT_LABELS: dict[str, dict[str, object]] = {
    **{part: {} for part in (
        "intake_title", "intake_submit", "cancel", "close", "snapshot_no_text", "snapshot_kept", "category_label",
        "category_placeholder", "text_label", "text_hint", "people_label", "urgency_label", "options_label",
        "option_anonymous", "option_follow_up", "options_hint", "emergency", "done_title", "urgency_title",
        "urgency_submit", "status_open", "status_acknowledged", "status_resolved", "view_button", "claim_button",
        "note_button", "message_button", "urgency_button", "escalate_button", "resolve_button", "reopen_button",
        "reply_button", "card_reply_waiting", "card_escalated", "card_details_elsewhere", "what_happened",
        "someone", "no_text", "empty", "trail_hearth")},
    **{f"{form}_{what}": {} for form in ("note", "resolve", "question", "reply")
       for what in ("label", "title", "submit")},
    "reporting_message": {"author": None, "channel_ref": Markup("<#C0123>")},
    "form_head": {"number": 7, "kind": "question"},
    "urgency_field": {"number": 7},
    "card_header": {"number": 7},
    "card_text": {"number": 7, "status": "Resolved"},
    "details_title": {"number": 7},
    "details_head": {"number": 7, "category": "Spam or scam", "urgency": "High", "reporter": "Reporter Wren-12"},
    "people_involved": {"people": [Markup("<@U01>"), Markup("<@U02>")]},
    "reported_message": {"author": "someone", "channel_ref": Markup("<#C0123>"), "link": "https://x.slack.com/p1"},
    "details_receipt": {"receipt": "AB12", "follow_up": False},
    "trail_line": {"at": "today", "actor": "Hearth", "action": "note", "body": None},
    "question_dm_text": {"number": 7},
    "answer_as": {"pseudonym": "Reporter Wren-12"},
    "category": {"key": "harassment"},
    "urgency": {"key": "urgent"},
}


@pytest.mark.parametrize("name", sorted(REPORT_SAMPLES))
def test_report_templates_render_within_slacks_limits(strict, name):
    text = strict.render(name, **REPORT_SAMPLES[name])
    assert text and text == text.strip()
    assert len(text) <= blocks.SECTION_TEXT
    assert blocks.section(text)["text"]["text"] == text


def test_every_report_template_has_a_sample():
    assert {p.name for p in BUILT_IN.glob("report_*.j2")} == set(REPORT_SAMPLES) | {"report_labels.j2"}


@pytest.mark.parametrize("part", sorted(REPORT_LABELS))
def test_every_report_label_the_views_use_has_words(strict, part):
    text = strict.render("report_labels.j2", part=part, **REPORT_LABELS[part])
    assert text and "\n" not in text


def test_report_options_and_outcomes_all_have_words():
    from slack_app.reports import rules

    copy = Copy(None, strict=True)
    for key in rules.CATEGORIES:
        assert copy.text("report_labels.j2", part="category", key=key) not in ("", key)
    for key in rules.URGENCIES:
        assert copy.text("report_labels.j2", part="urgency", key=key) not in ("", key)
    assert copy.text("report_labels.j2", part="category", key="retired") == "retired"  # an old key shows as is
    problems = ("not_set", "channel_gone", "unreachable", "public", "archived", "not_in_channel", "all_involved")
    for problem in problems:
        warning = copy.render("report_admin_warning.j2", number=1, problem=problem)
        assert "cannot be used" not in warning
        assert "private moderator channel" in warning
    answers = {copy.render("report_channel_answer.j2", outcome=o)
               for o in (*problems[:-1], "set", "busy", "not_admin")}
    assert len(answers) == 9
    for outcome in ("gone", "claim_resolved", "claimed", "reopen_not_resolved", "reopened", "escalated",
                    "no_follow_up", "cannot_answer", "window_failed"):
        assert copy.render("report_triage.j2", outcome=outcome, number=7)


def test_a_community_can_reword_the_case_card(tmp_path):
    from slack_app.reports import rules, views

    built_in = (BUILT_IN / "report_labels.j2").read_text()
    assert '"view_button" -%}View details\n' in built_in
    (tmp_path / "report_labels.j2").write_text(built_in.replace('"view_button" -%}View details\n',
                                                                '"view_button" -%}Details ansehen\n'))
    (tmp_path / "report_status_dm.j2").write_text("Fall #{{ number }}: {{ status }}")
    facts = views.CardFacts(case_id=1, number=3, category="spam", urgency="high", status=rules.OPEN,
                            assignee_id=None, reporter="Reporter Wren-12",
                            created_at=datetime(2026, 12, 3, tzinfo=UTC), reply_waiting=False, escalated=False)
    card = views.card(Copy(tmp_path), facts)
    buttons = [b for block in card["blocks"] if block["type"] == "actions" for b in block["elements"]]
    assert buttons[0]["text"]["text"] == "Details ansehen"
    assert buttons[1]["text"]["text"] == "Acknowledge / claim"  # the rest stay as they were
    assert views.status_dm(Copy(tmp_path), 3, rules.RESOLVED)["text"] == "Fall #3: resolved"


def test_a_reporters_answer_and_a_moderators_question_cannot_ping():
    from slack_app.reports import views

    dm = views.question_dm(Copy(None, strict=True), 7, "Reporter Wren-12", "<!channel> @here <@U9>", 3)
    assert dm["blocks"][0]["text"]["text"] == (
        f"The moderators have a question about your report (case #7):\n>&lt;!channel&gt; @{WJ}here &lt;@U9&gt;")


# ---- survey wording --------------------------------------------------------------------------------------

SURVEY_SAMPLES = [
    ("survey_labels.j2", {"part": part}) for part in
    ("answer_button", "invitation_note", "scale_placeholder", "modal_submit", "close", "notice_title", "thanks_title")
] + [
    ("survey_labels.j2", {"part": "agreement", "value": value}) for value in range(1, 6)
] + [
    ("survey_notes.j2", {"note": note}) for note in ("already", "closed", "not_for_you", "missing")
] + [
    ("survey_errors.j2", {"code": "answer_required", "limit": 3000}),
    ("survey_results.j2", {"state": "open", "title": "Belonging"}),
    ("survey_results.j2", {"state": "withheld", "title": "Belonging", "answered": None, "minimum": 5}),
    ("survey_results.j2", {"state": "shown", "title": "M", "respondents": 6, "index": "80", "since": "+3",
                           "questions": [{"text": "A", "favourable": "83", "mean": "3.7", "choices": [],
                                          "delta": "+5"},
                                         {"text": "P", "favourable": None, "mean": None, "delta": None,
                                          "choices": [{"label": "x", "n": 4}, {"label": "y", "n": 2}]}],
                           "withheld": 1, "comments": ["Kind people"]}),
    ("survey_stored.j2", {}),
    ("survey_thanks.j2", {}),
    ("survey_invitation.j2", {"reminder": False, "title": "Belonging", "closes": "Fri 02 Jan"}),
    ("survey_invitation.j2", {"reminder": True, "title": "Belonging", "closes": "Fri 02 Jan"}),
    ("survey_closed.j2", {"channel": False}),
    ("survey_closed.j2", {"channel": True}),
    ("survey_launch_refused.j2", {"reason": "bad_minimum", "low": 3, "high": 50}),
    ("survey_launch_refused.j2", {"reason": "already_open", "channel_id": "C0123"}),
    ("survey_launch_refused.j2", {"reason": "already_open", "channel_id": None}),
    ("survey_launch_refused.j2", {"reason": "already_open_audience"}),
    ("survey_launch_refused.j2", {"reason": "slack_busy", "error": "ratelimited"}),
    ("survey_launch_refused.j2", {"reason": "channel_problem", "error": "not_in_channel", "channel_id": "C0123"}),
    ("survey_launch_refused.j2", {"reason": "too_small", "audience": 2, "minimum": 5, "low": 3}),
    ("survey_command.j2", {"reply": "not_admin"}),
    ("survey_command.j2", {"reply": "slack_busy"}),
    ("survey_command.j2", {"reply": "usage"}),
    ("survey_command.j2", {"reply": "unknown_survey", "survey": "nope", "shipped": ["belonging"]}),
    ("survey_command.j2", {"reply": "bad_duration", "closes": "forever"}),
    ("survey_command.j2", {"reply": "launched", "title": "Belonging", "days": 5, "hours": 0, "invited": 7,
                           "run_id": "R1"}),
    ("survey_command.j2", {"reply": "launched", "title": "Belonging", "days": 0, "hours": 20, "invited": 7,
                           "run_id": "R1"}),
    ("survey_command.j2", {"reply": "scheduled", "title": "Belonging", "when": "every 2nd tue 09:30 Europe/Berlin",
                           "next": "Tue 06 Jan 08:30", "days": 5, "hours": 0}),
    ("survey_command.j2", {"reply": "unscheduled", "survey": "belonging"}),
    ("survey_command.j2", {"reply": "not_scheduled", "survey": "belonging"}),
    ("survey_command.j2", {"reply": "bad_word", "word": "fortnightly"}),
    ("survey_command.j2", {"reply": "bad_schedule", "field": "closes", "value": 7}),
    ("survey_command.j2", {"reply": "bad_schedule", "field": "min-responses", "value": 12}),
    ("survey_command.j2", {"reply": "bad_schedule", "field": "time", "value": "25:00"}),
    ("survey_home.j2", {"runs": [
        {"survey": "belonging", "channel_id": "C0123", "state": "open", "closes": "Fri 02 Jan 10:00", "invited": 4},
        {"survey": "belonging", "channel_id": None, "closed_on": "2026-01-02", "state": "withheld", "minimum": 5},
        {"survey": "belonging", "channel_id": "C0123", "closed_on": "2026-01-02", "state": "shown",
         "respondents": 6, "index": "80", "change": "+3"},
        {"survey": "pulse", "channel_id": "C0123", "closed_on": "2026-01-02", "state": "shown", "respondents": 6,
         "index": None, "change": None},
    ], "schedules": []}),
    ("survey_home.j2", {"runs": [], "schedules": [
        {"survey": "belonging", "channel_id": "C0123", "when": "every 2nd mon 10:00 UTC", "next": "Mon 05 Jan 10:00",
         "last": None},
        {"survey": "belonging", "channel_id": None, "when": "first mon of the month 10:00 UTC",
         "next": "Mon 05 Jan 10:00", "last": "too_small"},
        {"survey": "pulse", "channel_id": "C0123", "when": "every mon 09:00 UTC", "next": "Mon 05 Jan 09:00",
         "last": "already_open_audience"},
    ]}),
    ("survey_schedule_note.j2", {"title": "Belonging", "channel_id": "C0123", "day": "Mon 05 Jan",
                                 "why": "the audience has 2 people, fewer than the 5 respondents a result needs."}),
    ("survey_schedule_note.j2", {"title": "Belonging", "channel_id": None, "day": "Mon 05 Jan", "why": "busy."}),
]


@pytest.mark.parametrize(("name", "ctx"), SURVEY_SAMPLES)
def test_survey_templates_render_strictly_within_slacks_limits(strict, name, ctx):
    text = strict.render(name, **ctx)
    assert text and text == text.strip() and "{" not in text
    assert len(text) <= blocks.SECTION_TEXT
    if name == "survey_labels.j2" and ctx["part"].endswith(("_title", "_button", "_submit", "close")):
        assert len(text) <= 24


def test_survey_wording_escapes_what_members_and_admins_type(strict):
    text = strict.render("survey_command.j2", reply="unknown_survey", survey="<!channel>", shipped=["belonging"])
    assert "`&lt;!channel&gt;`" in text
    invite = strict.render("survey_invitation.j2", reminder=False, title="Us & <@U1>", closes="Fri 02 Jan")
    assert "*Us &amp; &lt;@U1&gt;*" in invite


def test_a_community_can_reword_the_survey_notes(tmp_path):
    copy = copy_with(tmp_path, survey_notes="{% if note == 'closed' %}Zu spät.{% else %}Nein.{% endif %}")
    assert copy.render("survey_notes.j2", note="closed") == "Zu spät."
    assert "Your answers are sealed" in copy.render("survey_thanks.j2")  # the rest stay built in


def test_the_survey_confirmation_promises_only_what_the_design_keeps(strict):
    """docs/privacy.md: while a survey is open, someone holding a database dump *and* the key could pair a
    participation row with its sealed answers. So the member is told what happens (sealed, then shuffled and
    stored without their name at close) and what Hearth shows, never that nobody at all could see them."""
    from surveys.loader import builtin_instrument

    invitation = strict.render("survey_invitation.j2", reminder=False, title="Belonging", closes="Fri 02 Jan")
    for said in (strict.render("survey_thanks.j2"), builtin_instrument("belonging").intro, invitation):
        assert "nobody" not in said.lower() and "admins included" not in said
    stored = strict.render("survey_stored.j2")
    assert "sealed (encrypted) until the survey closes, then shuffled" in stored and "without your name" in stored
    assert "Hearth shows admins only results" in stored


def test_survey_answer_errors_keep_their_words():
    from slack_app.surveys import views
    errors = views.answer_errors(Copy(None, strict=True), {"a": "answer_required", "b": "choice_required",
                                                           "c": "too_long", "d": "not_a_choice"})["errors"]
    assert list(errors.values()) == ["Please answer this one.", "Please choose an answer.",
                                     "Please keep this under 3000 characters.",
                                     "That answer is not one of the choices; please choose again."]


def test_survey_results_keep_their_words_and_escape_comments(strict):
    text = strict.render("survey_results.j2", state="shown", title="M", respondents=6, index=None, since=None,
                         questions=[{"text": "A", "favourable": "83", "mean": "3.7", "choices": [], "delta": "+5"},
                                    {"text": "P", "favourable": None, "mean": None, "delta": None,
                                     "choices": [{"label": "x", "n": 4}, {"label": "y", "n": 2}]}],
                         withheld=1, comments=["<!channel> & co"])
    assert text.splitlines() == ["M: 6 responses", "• A — 83% agree; mean 3.7; +5 pts", "• P — x: 4, y: 2",
                                 "(1 question(s) had too few answers to show.)",
                                 "Comments (1, in no particular order):", "> &lt;!channel&gt; &amp; co"]
    assert strict.render("survey_results.j2", state="withheld", title="M", answered=2, minimum=5) == (
        "M: 2 answered; results are shown only from 5 respondents, so none are shown.")


def test_survey_agreement_options_match_the_engines_labels(strict):
    from surveys.model import AGREEMENT_LABELS
    assert tuple(strict.text("survey_labels.j2", part="agreement", value=v) for v in range(1, 6)) == AGREEMENT_LABELS


def test_a_fixed_word_is_rendered_once_and_words_with_context_every_time(tmp_path, monkeypatch):
    copy = copy_with(tmp_path, labels="{% if part == 'title' %}Check-in{% else %}Closes {{ when }}{% endif %}")
    rendered = []
    get_template = copy.env.get_template
    monkeypatch.setattr(copy.env, "get_template", lambda name: rendered.append(name) or get_template(name))
    assert [copy.render("labels.j2", part="title") for _ in range(3)] == ["Check-in"] * 3
    assert copy.text("labels.j2", part="title") == "Check-in"
    assert len(rendered) == 1  # a label, a placeholder, a button: the same words for every member
    assert copy.render("labels.j2", part="closes", when="Monday") == "Closes Monday"
    assert copy.render("labels.j2", part="closes", when="Friday") == "Closes Friday"
    assert len(rendered) == 3
