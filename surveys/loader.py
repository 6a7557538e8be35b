"""Survey files: YAML in, a typed `Instrument` out, or every problem found with its line number.

The file is composed into YAML nodes (not plain dicts) so each message can point at the line to fix, e.g.
`team.yml:12: question 'q3' has no text`. All problems are collected in one pass, so an author fixes a
file in one go rather than one error per run. Limits follow what Slack's modal can show (labels ≤ 2000
characters, radio buttons ≤ 10 options of ≤ 75 characters, a title ≤ 24 characters, ≤ 100 blocks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from surveys.model import (
    CLOSES_AFTER_DAYS_RANGE,
    COMMENT_MIN_RESPONSES_MAX,
    DEFAULT_CLOSES_AFTER_DAYS,
    DEFAULT_COMMENT_MIN_RESPONSES,
    DEFAULT_MIN_RESPONSES,
    MIN_RESPONSES_RANGE,
    Instrument,
    Question,
    QuestionKind,
    SurveySettings,
)

MAX_FILE_BYTES = 256 * 1024
MAX_QUESTIONS = 30  # one input block each, well inside a modal's 100 blocks with intro and privacy note
MAX_TITLE = 24
MAX_TEXT = 2000
MAX_OPTION = 75
OPTIONS_RANGE = (2, 10)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ID_RE = re.compile(r"^[a-z0-9_]{1,32}$")

TOP_KEYS = ("name", "version", "title", "intro", "settings", "questions")
SETTINGS_KEYS = ("min_responses", "comment_min_responses", "share_results", "closes_after_days")
QUESTION_KEYS = ("id", "kind", "text", "required", "options", "index")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


class InstrumentError(Exception):
    """A survey file that cannot be used; `str()` gives one `source:line: message` per problem."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}:{p.line}: {p.message}" for p in self.problems]


def load_instrument(path: str | Path) -> Instrument:
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InstrumentError(source, [Problem(0, f"cannot read the file ({exc.strerror or 'unreadable'})")]) from None
    return parse_instrument(raw, source)


def builtin_instrument(name: str) -> Instrument:
    """A survey shipped with Hearth (`surveys/instruments/NAME.yml`)."""
    if not NAME_RE.match(name):
        raise KeyError(name)
    ref = resources.files("surveys").joinpath("instruments", f"{name}.yml")
    if not ref.is_file():
        raise KeyError(name)
    return parse_instrument(ref.read_bytes(), f"{name}.yml")


def builtin_names() -> list[str]:
    folder = resources.files("surveys").joinpath("instruments")
    return sorted(p.name[: -len(".yml")] for p in folder.iterdir() if p.name.endswith(".yml"))


def parse_instrument(raw: bytes | str, source: str = "<survey>") -> Instrument:
    if isinstance(raw, bytes):
        if len(raw) > MAX_FILE_BYTES:
            raise InstrumentError(source, [Problem(0, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")])
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InstrumentError(source, [Problem(0, "the file is not UTF-8 text")]) from None
    try:
        loader = yaml.SafeLoader(raw)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        reason = " ".join(part for part in (exc.context, exc.problem) if part)
        raise InstrumentError(source, [Problem(line, f"not valid YAML: {reason}")]) from None
    except RecursionError:
        raise InstrumentError(source, [Problem(0, "the file is nested too deeply to be a survey")]) from None
    except yaml.YAMLError as exc:
        raise InstrumentError(source, [Problem(0, f"not valid YAML: {exc}")]) from None
    reader = _Reader()
    instrument = reader.instrument(root)
    if reader.problems or instrument is None:
        raise InstrumentError(source, reader.problems or [Problem(0, "the file is empty")])
    return instrument


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Walks the composed nodes, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, node: Node, message: str) -> None:
        self.problems.append(Problem(_line(node), message))

    # -- generic pieces -------------------------------------------------------------------------------------

    def mapping(self, node: Node, what: str, allowed: tuple[str, ...]) -> dict[str, tuple[Node, Node]] | None:
        """Keys → (key node, value node); unknown and repeated keys are problems (a typo must not pass quietly)."""
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping of keys to values")
            return None
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str) or key not in allowed:
                self.fail(key_node, f"unknown key {key!r} in {what} (expected one of: {', '.join(allowed)})")
            elif key in out:
                self.fail(key_node, f"{what} has '{key}' twice")
            else:
                out[key] = (key_node, value_node)
        return out

    def scalar(self, node: Node) -> object:
        if not isinstance(node, ScalarNode):
            return _NOT_SCALAR
        try:
            return SafeConstructor().construct_object(node)
        except (ConstructorError, ValueError):
            return _NOT_SCALAR

    def text(self, node: Node, what: str, limit: int) -> str | None:
        value = self.scalar(node)
        if not isinstance(value, str) or not value.strip():
            self.fail(node, f"{what} must be text")
            return None
        value = value.strip()
        if len(value) > limit:
            self.fail(node, f"{what} is {len(value)} characters; Slack shows at most {limit}")
            return None
        return value

    def integer(self, node: Node, what: str, low: int, high: int) -> int | None:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(node, f"{what} must be a whole number from {low} to {high}")
            return None
        return value

    def boolean(self, node: Node, what: str) -> bool | None:
        value = self.scalar(node)
        if not isinstance(value, bool):
            self.fail(node, f"{what} must be true or false")
            return None
        return value

    # -- the document ---------------------------------------------------------------------------------------

    def instrument(self, root: Node | None) -> Instrument | None:
        if root is None:
            return None
        top = self.mapping(root, "the survey", TOP_KEYS)
        if top is None:
            return None
        name = title = None
        for key in ("name", "title", "questions"):
            if key not in top:
                self.problems.append(Problem(_line(root), f"the survey has no '{key}'"))
        if "name" in top:
            name = self.text(top["name"][1], "'name'", 40)
            if name is not None and not NAME_RE.match(name):
                self.fail(top["name"][1], "'name' must be lowercase letters, digits, '-' or '_' (at most 40)")
                name = None
        version = self.integer(top["version"][1], "'version'", 1, 10_000) if "version" in top else 1
        if "title" in top:
            title = self.text(top["title"][1], "'title'", MAX_TITLE)
        intro = self.text(top["intro"][1], "'intro'", MAX_TEXT) if "intro" in top else ""
        settings = self.settings(top["settings"][1]) if "settings" in top else SurveySettings()
        questions = self.questions(top["questions"][1]) if "questions" in top else None
        if None in (name, version, title, intro, settings, questions):
            return None
        assert name and version and title and intro is not None and settings and questions
        return Instrument(name=name, version=version, title=title, intro=intro, questions=questions, settings=settings)

    def settings(self, node: Node) -> SurveySettings | None:
        keys = self.mapping(node, "'settings'", SETTINGS_KEYS)
        if keys is None:
            return None
        low, high = MIN_RESPONSES_RANGE
        minimum: int | None = DEFAULT_MIN_RESPONSES
        if "min_responses" in keys:
            minimum = self.integer(keys["min_responses"][1], "'min_responses'", low, high)
        comments: int | None = max(DEFAULT_COMMENT_MIN_RESPONSES, minimum or low)
        if "comment_min_responses" in keys:
            floor = minimum or low
            comments = self.integer(keys["comment_min_responses"][1], "'comment_min_responses'", floor, COMMENT_MIN_RESPONSES_MAX)
            if comments is None:
                self.problems[-1] = Problem(self.problems[-1].line, self.problems[-1].message + " (never below min_responses)")
        share: bool | None = False
        if "share_results" in keys:
            share = self.boolean(keys["share_results"][1], "'share_results'")
        days: int | None = DEFAULT_CLOSES_AFTER_DAYS
        if "closes_after_days" in keys:
            days = self.integer(keys["closes_after_days"][1], "'closes_after_days'", *CLOSES_AFTER_DAYS_RANGE)
        if None in (minimum, comments, share, days):
            return None
        assert minimum is not None and comments is not None and share is not None and days is not None
        return SurveySettings(min_responses=minimum, comment_min_responses=comments, share_results=share, closes_after_days=days)

    def questions(self, node: Node) -> tuple[Question, ...] | None:
        if not isinstance(node, SequenceNode) or not node.value:
            self.fail(node, "'questions' must be a list with at least one question")
            return None
        if len(node.value) > MAX_QUESTIONS:
            self.fail(node, f"a survey has at most {MAX_QUESTIONS} questions (this one has {len(node.value)})")
        seen: dict[str, int] = {}
        out: list[Question] = []
        for position, item in enumerate(node.value, start=1):
            question = self.question(item, position, seen)
            if question is not None:
                out.append(question)
        if len(out) != len(node.value):
            return None
        if all(q.kind is QuestionKind.TEXT for q in out):
            self.fail(node, "a survey needs at least one question that is not free text")
            return None
        return tuple(out)

    def question(self, node: Node, position: int, seen: dict[str, int]) -> Question | None:
        keys = self.mapping(node, f"question {position}", QUESTION_KEYS)
        if keys is None:
            return None
        before = len(self.problems)
        qid: str | None = None
        if "id" not in keys:
            self.fail(node, f"question {position} has no 'id'")
        else:
            qid = self.text(keys["id"][1], f"question {position}'s 'id'", 32)
            if qid is not None and not ID_RE.match(qid):
                self.fail(keys["id"][1], f"question id {qid!r} must be lowercase letters, digits or '_' (at most 32)")
            elif qid is not None and qid in seen:
                self.fail(keys["id"][1], f"question id '{qid}' is already used on line {seen[qid]}")
            elif qid is not None:
                seen[qid] = _line(keys["id"][1])
        label = f"question '{qid}'" if qid else f"question {position}"

        kind: QuestionKind | None = None
        if "kind" not in keys:
            self.fail(node, f"{label} has no 'kind' (one of: {', '.join(k.value for k in QuestionKind)})")
        else:
            raw_kind = self.scalar(keys["kind"][1])
            try:
                kind = QuestionKind(raw_kind)
            except ValueError:
                self.fail(keys["kind"][1], f"{label} has kind {raw_kind!r}; use one of: {', '.join(k.value for k in QuestionKind)}")

        text: str | None = None
        if "text" not in keys:
            self.fail(node, f"{label} has no text")
        else:
            text = self.text(keys["text"][1], f"{label}'s text", MAX_TEXT)

        required: bool | None = kind is not QuestionKind.TEXT  # a comment box is optional unless it says otherwise
        if "required" in keys:
            required = self.boolean(keys["required"][1], f"{label}'s 'required'")

        options: tuple[str, ...] = ()
        if kind is QuestionKind.CHOICE:
            if "options" not in keys:
                self.fail(node, f"{label} is a choice and needs 'options' ({OPTIONS_RANGE[0]} to {OPTIONS_RANGE[1]})")
            else:
                options = self.options(keys["options"][1], label)
        elif "options" in keys and kind is not None:
            self.fail(keys["options"][0], f"{label}: only choice questions have 'options'")

        in_index = False
        if "index" in keys:
            flag = self.boolean(keys["index"][1], f"{label}'s 'index'")
            if flag and kind is not None and kind is not QuestionKind.AGREEMENT:
                self.fail(keys["index"][0], f"{label}: only agreement statements can count toward the index")
            elif flag and required is False:
                self.fail(keys["index"][0], f"{label}: a statement in the index must be required")
            in_index = bool(flag)

        if len(self.problems) != before or qid is None or kind is None or text is None or required is None:
            return None
        return Question(id=qid, kind=kind, text=text, required=required, options=options, in_index=in_index, line=_line(node))

    def options(self, node: Node, label: str) -> tuple[str, ...]:
        low, high = OPTIONS_RANGE
        if not isinstance(node, SequenceNode) or not low <= len(node.value) <= high:
            self.fail(node, f"{label} needs a list of {low} to {high} options")
            return ()
        out: list[str] = []
        for item in node.value:
            option = self.text(item, f"{label}'s option", MAX_OPTION)
            if option is not None and option in out:
                self.fail(item, f"{label} lists the option {option!r} twice")
            elif option is not None:
                out.append(option)
        return tuple(out)


_NOT_SCALAR = object()
