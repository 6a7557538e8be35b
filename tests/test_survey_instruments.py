"""Survey files: the shipped belonging survey, custom surveys, and line-precise problems."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from surveys.cli import surveys
from surveys.loader import InstrumentError, builtin_instrument, builtin_names, parse_instrument
from surveys.model import QuestionKind

VALID = textwrap.dedent("""\
    name: team-pulse
    version: 2
    title: Team pulse
    intro: A quick check.
    settings:
      min_responses: 4
      comment_min_responses: 6
      share_results: true
      closes_after_days: 3
    questions:
      - id: belong
        kind: agreement
        text: I feel I belong here.
        index: true
      - id: role
        kind: choice
        text: What do you mostly do?
        options: [Code, Design, Community]
      - id: recommend
        kind: scale
        text: How likely are you to recommend this community to a friend?
        required: false
      - id: comment
        kind: text
        text: Anything else?
    """)


HEAD = "name: x\ntitle: X\nquestions:\n"


def problems(text: str, source: str = "s.yml") -> list[str]:
    with pytest.raises(InstrumentError) as info:
        parse_instrument(text, source)
    return info.value.lines()


def test_the_belonging_survey_ships_eight_index_statements_and_one_optional_comment():
    assert "belonging" in builtin_names()
    survey = builtin_instrument("belonging")
    agreement = [q for q in survey.questions if q.kind is QuestionKind.AGREEMENT]
    assert 6 <= len(agreement) <= 10
    assert all(q.in_index and q.required for q in agreement)
    (comment,) = [q for q in survey.questions if q.kind is QuestionKind.TEXT]
    assert not comment.required
    assert survey.settings.min_responses == 5 and survey.settings.comment_min_responses == 5
    assert not survey.settings.share_results
    # The six themes of the issue are each asked about.
    ids = {q.id for q in agreement}
    assert {"belong", "be_myself", "mistakes", "ask_for_help", "heard", "next_year"} <= ids


def test_an_unknown_builtin_is_a_key_error_not_a_path():
    with pytest.raises(KeyError):
        builtin_instrument("../pyproject")
    with pytest.raises(KeyError):
        builtin_instrument("nosuch")


def test_a_custom_survey_with_every_kind_loads_typed():
    survey = parse_instrument(VALID)
    assert (survey.name, survey.version, survey.title) == ("team-pulse", 2, "Team pulse")
    kinds = [QuestionKind.AGREEMENT, QuestionKind.CHOICE, QuestionKind.SCALE, QuestionKind.TEXT]
    assert [q.kind for q in survey.questions] == kinds
    role = survey.question("role")
    assert role.options == ("Code", "Design", "Community") and role.values == (0, 1, 2) and role.label(1) == "Design"
    assert survey.question("recommend").values == tuple(range(11)) and not survey.question("recommend").required
    assert not survey.question("comment").required  # free text is optional unless the file says otherwise
    assert survey.question("belong").label(5) == "Strongly agree"
    assert [q.id for q in survey.counted] == ["belong", "role", "recommend"]
    assert [q.id for q in survey.index_questions] == ["belong"]
    s = survey.settings
    assert (s.min_responses, s.comment_min_responses, s.share_results, s.closes_after_days) == (4, 6, True, 3)
    assert survey.question("belong").line == 11


def test_settings_default_when_absent():
    survey = parse_instrument(HEAD + "  - {id: a, kind: agreement, text: Hi}\n")
    assert (survey.version, survey.intro, survey.settings.min_responses, survey.settings.comment_min_responses) == (1, "", 5, 5)
    # A stricter numbers minimum lifts the comments' default with it.
    raised = parse_instrument("settings: {min_responses: 8}\n" + HEAD + "  - {id: a, kind: agreement, text: Hi}\n")
    assert raised.settings.comment_min_responses == 8


def test_a_question_without_text_is_named_with_its_line():
    text = VALID.replace("    text: How likely are you to recommend this community to a friend?\n", "")
    assert problems(text, "belonging.yml") == ["belonging.yml:19: question 'recommend' has no text"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  min_responses: 4", "  min_responses: 2", "s.yml:6: 'min_responses' must be a whole number from 3 to 10"),
        ("  min_responses: 4", "  min_responses: 11", "s.yml:6: 'min_responses' must be a whole number from 3 to 10"),
        ("  min_responses: 4", "  min_responses: four", "s.yml:6: 'min_responses' must be a whole number from 3 to 10"),
        ("  comment_min_responses: 6", "  comment_min_responses: 3",
         "s.yml:7: 'comment_min_responses' must be a whole number from 4 to 50 (never below min_responses)"),
        ("  share_results: true", "  share_results: maybe", "s.yml:8: 'share_results' must be true or false"),
        ("  closes_after_days: 3", "  closes_after_days: 0", "s.yml:9: 'closes_after_days' must be a whole number from 1 to 30"),
        ("  min_responses: 4", "  min_respones: 4", "s.yml:6: unknown key 'min_respones' in 'settings'"),
        ("    kind: scale", "    kind: slider", "s.yml:20: question 'recommend' has kind 'slider'; use one of"),
        ("    options: [Code, Design, Community]", "    options: [Code]",
         "s.yml:18: question 'role' needs a list of 2 to 10 options"),
        ("    options: [Code, Design, Community]", "    options: [Code, Code]",
         "s.yml:18: question 'role' lists the option 'Code' twice"),
        ("  - id: role", "  - id: belong", "s.yml:15: question id 'belong' is already used on line 11"),
        ("  - id: role", "  - id: Role!", "s.yml:15: question id 'Role!' must be lowercase"),
        ("    index: true", "    index: yes please", "s.yml:14: question 'belong''s 'index' must be true or false"),
        ("title: Team pulse", "title: A title far too long for a modal",
         "s.yml:3: 'title' is 32 characters; Slack shows at most 24"),
        ("version: 2", "version: 0", "s.yml:2: 'version' must be a whole number from 1 to 10000"),
        ("name: team-pulse", "name: Team Pulse", "s.yml:1: 'name' must be lowercase"),
        ("    required: false", "    required: false\n    options: [a, b]",
         "s.yml:23: question 'recommend': only choice questions"),
        ("    required: false", "    required: false\n    index: true",
         "s.yml:23: question 'recommend': only agreement statements"),
        ("    index: true", "    index: true\n    required: false",
         "s.yml:14: question 'belong': a statement in the index must be required"),
        ("intro: A quick check.", "intro: A quick check.\nintro: Again.", "s.yml:5: the survey has 'intro' twice"),
    ],
)
def test_each_problem_points_at_its_line(old, new, expected):
    assert old in VALID
    found = problems(VALID.replace(old, new))
    assert any(line.startswith(expected) for line in found), found


def test_every_problem_is_reported_in_one_pass_in_line_order():
    text = VALID.replace("  min_responses: 4", "  min_responses: 1").replace("    kind: scale", "    kind: slider").replace(
        "    text: Anything else?\n", "")
    found = problems(text)
    assert [line.split(":")[1] for line in found] == ["6", "20", "23"], found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "s.yml:0: the file is empty"),
        ("- a\n- b\n", "s.yml:1: the survey must be a mapping"),
        ("name: x\ntitle: X\nquestions: [\n", "s.yml:4: not valid YAML"),
        ("name: x\ntitle: X\nquestions: []\n", "s.yml:3: 'questions' must be a list with at least one question"),
        (HEAD + "  - {id: c, kind: text, text: Hi}\n",
         "s.yml:4: a survey needs at least one question that is not free text"),
        ("name: x\nquestions:\n  - {id: a, kind: agreement, text: Hi}\n", "s.yml:1: the survey has no 'title'"),
        (HEAD + "  - {id: a, text: Hi}\n", "s.yml:4: question 'a' has no 'kind'"),
        (HEAD + "  - {id: a, kind: choice, text: Hi}\n", "s.yml:4: question 'a' is a choice and needs 'options'"),
        (HEAD + "  - {kind: agreement, text: Hi}\n", "s.yml:4: question 1 has no 'id'"),
        (HEAD + "  - just text\n", "s.yml:4: question 1 must be a mapping"),
        (HEAD + "  - {id: a, kind: agreement, text: [1, 2]}\n", "s.yml:4: question 'a''s text must be text"),
    ],
)
def test_malformed_files_get_one_kind_line_each(text, expected):
    found = problems(text)
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000, "s.yml:0: the file is nested too deeply to be a survey"),
        ("---\nname: x\n---\nname: y\n", "s.yml:3: not valid YAML: expected a single document in the stream but found another"),
        ("name: x\n\ttitle: y\n", "s.yml:2: not valid YAML"),
    ],
)
def test_yaml_that_cannot_be_read_is_one_line(text, expected):
    (line,) = problems(text)
    assert line.startswith(expected)


def test_too_many_questions_and_oversized_or_binary_files_are_refused():
    many = HEAD + "" + "".join(f"  - {{id: q{i}, kind: agreement, text: Hi}}\n" for i in range(31))
    assert problems(many) == ["s.yml:4: a survey has at most 30 questions (this one has 31)"]
    with pytest.raises(InstrumentError, match="not UTF-8"):
        parse_instrument(b"\xff\xfe\x00name", "s.yml")
    with pytest.raises(InstrumentError, match="larger than 256 KiB"):
        parse_instrument(b"#" * (256 * 1024 + 1), "s.yml")


# -- hearth surveys check ------------------------------------------------------------------------------------


def test_check_says_ok_with_the_number_of_questions(tmp_path):
    path = tmp_path / "pulse.yml"
    path.write_text(VALID)
    result = CliRunner().invoke(surveys, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 4 questions (3 counted, 1 free text) in 'team-pulse' v2")


def test_check_lists_line_precise_problems_and_exits_1(tmp_path):
    path = tmp_path / "belonging.yml"
    path.write_text(VALID.replace("    text: How likely are you to recommend this community to a friend?\n", "").replace(
        "  min_responses: 4", "  min_responses: 12"))
    result = CliRunner().invoke(surveys, ["check", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:6: 'min_responses' must be a whole number from 3 to 10",
        f"{path}:19: question 'recommend' has no text",
    ]
    assert "Traceback" not in result.output


def test_check_a_missing_file_is_one_line_not_a_traceback(tmp_path):
    result = CliRunner().invoke(surveys, ["check", str(tmp_path / "nope.yml")])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{tmp_path / 'nope.yml'}:0: cannot read the file")
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_check_accepts_the_shipped_belonging_survey():
    from importlib import resources

    path = resources.files("surveys").joinpath("instruments", "belonging.yml")
    result = CliRunner().invoke(surveys, ["check", str(path)])
    assert result.exit_code == 0 and result.output.startswith("ok: 9 questions")


def test_the_surveys_group_plugs_into_the_hearth_cli_through_a_workflow(tmp_path):
    # The lead lists it in slack_app/workflows.py; this proves the group fits `Workflow.commands` as it is.
    from slack_app.cli import cli_for
    from slack_app.workflow import Workflow

    hearth = cli_for([Workflow("surveys", commands=(surveys,))])
    path = tmp_path / "pulse.yml"
    path.write_text(VALID)
    result = CliRunner().invoke(hearth, ["surveys", "check", str(path)])
    assert result.exit_code == 0 and result.output.startswith("ok: 4 questions")
