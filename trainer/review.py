"""Learning from real conversations: export what the bot misunderstood, merge what trainers labelled.

    python -m trainer.review export [--db-url URL] [--since 2026-11-01] [--out review/to_review.yml]
    python -m trainer.review merge review/to_review.yml [--data-dir data/nlu]

`export` reads Rasa's SQL tracker store (read-only) and writes a YAML file of user messages
that fell to the fallback, got a low intent confidence, or came before "it didn't work" or a
ticket, masked and de-duplicated. A trainer fills in each item's `intent`; `merge` appends
those items to the NLU file that holds the intent (a Chinese item to data/nlu/zh/<same
name>.yml when that file holds the intent) and removes them from the review file.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import yaml

from core.secrets import mask_secrets
from core.settings import Settings, get_settings
from trainer.review_db import Event, TrackerDbError, conversations, read_events, safe_url
from trainer.review_nlu import (
    ANNOTATION,
    NluData,
    NluFileError,
    append_example,
    check_example_added,
    domain_entities,
    language_of,
    load_nlu,
    normalise,
    valid_intents,
    write_atomically,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = Settings.__fields__["tracker_db_url"].default
DEFAULT_OUT = Path("review/to_review.yml")
SKIPPED_NAME = "skipped.yml"
MIN_CONFIDENCE = 0.7
MAX_LENGTH = 1000

REASONS = ("fallback", "low_confidence", "didnt_work", "ticket")
PROBLEM_INTENTS = ("forgot_password", "verification_failed", "eso_local_spam", "marked_as_spam", "unusual_login_alerts")
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = ("action_default_ask_affirmation", "action_default_fallback", "action_default_ask_rephrase")
STEP_FAILED_INTENT = "step_failed"
TICKET_INTENT = "open_ticket"
TICKET_FORM = "ticket_form"
RETRIEVAL_INTENT = "faq"
SKIP = "skip"
FIELDS = ("text", "predicted_intent", "confidence", "reasons", "count", "language", "first_seen", "last_seen", "intent")

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+[@＠][A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# ASCII word boundaries, so that numbers written right after Chinese text are found too.
_PHONE = re.compile(
    r"(?<![A-Za-z0-9_.+-])(?:(?:\+|00)\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?"
    r"\d{2,4}(?:[\s.-]?\d{2,4}){1,4}(?![A-Za-z0-9_-]|\.\d)"
)
_NOT_PHONE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}|\d{1,3}(?:\.\d{1,3}){3}")
EMAIL_MASK, PHONE_MASK = "[email]", "[phone]"
_MASKS = re.compile(r"\[(?:email|phone|hidden)\]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z0-9_]+)?$")  # intent names, reasons, languages
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


class UserError(Exception):
    """Something the trainer can fix; printed without a traceback."""


# --- masking and filtering -----------------------------------------------------------------------
def _phone_or_not(match: "re.Match[str]") -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    if not 7 <= digits <= 15 or _NOT_PHONE.fullmatch(match.group(0).strip()):
        return match.group(0)
    return PHONE_MASK


def mask_personal(text: str) -> str:
    """E-mail addresses, then secrets (core.secrets: passwords, codes, tokens, cards), then phone
    numbers masked. core.secrets keeps what only talks about them ("password reset not working"),
    which is training material."""
    text = mask_secrets(_EMAIL.sub(EMAIL_MASK, text))
    return _PHONE.sub(_phone_or_not, text)


def one_line(text: str) -> str:
    return " ".join(text.split())


def is_payload(text: str) -> bool:
    return text.strip().startswith("/")


# --- what happened in a conversation ---------------------------------------------------------------
@dataclass
class UserMessage:
    """A user message of a conversation and why it is worth a trainer's look."""

    text: str
    timestamp: float
    intent: Optional[str]
    confidence: Optional[float]
    reasons: Set[str] = field(default_factory=set)


def predicted(parse_data: Dict[str, Any]) -> Tuple[Optional[str], Optional[float]]:
    """The intent the NLU chose (`faq/<key>` for FAQs; the best real guess behind a fallback)."""
    intent = parse_data.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence")
    if name == FALLBACK_INTENT:
        guess = next((r for r in parse_data.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT), None)
        if guess:
            name, confidence = guess.get("name"), guess.get("confidence")
    if name == RETRIEVAL_INTENT:
        selector = (parse_data.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
        name = (
            (selector.get("response") or {}).get("intent_response_key")
            or intent.get("full_retrieval_intent_name")
            or name
        )
    return name, float(confidence) if confidence is not None else None


def user_message(event: Event, min_confidence: float) -> UserMessage:
    parse_data = event.data.get("parse_data") or {}
    name, confidence = predicted(parse_data)
    message = UserMessage(str(event.data.get("text") or ""), event.timestamp or 0.0, name, confidence)
    if (event.intent_name or (parse_data.get("intent") or {}).get("name")) == FALLBACK_INTENT:
        message.reasons.add("fallback")
    if confidence is not None and confidence < min_confidence:
        message.reasons.add("low_confidence")
    return message


def raw_intent(event: Event) -> Optional[str]:
    return event.intent_name or ((event.data.get("parse_data") or {}).get("intent") or {}).get("name")


def problem_message(earlier: Sequence[UserMessage]) -> Optional[UserMessage]:
    """The message that described the problem: the latest with a problem intent, else the latest."""
    for message in reversed(earlier):
        if message.intent in PROBLEM_INTENTS:
            return message
    return earlier[-1] if earlier else None


def mark(message: Optional[UserMessage], reason: str) -> None:
    if message is not None:
        message.reasons.add(reason)


def flag_session(events: Iterable[Event], min_confidence: float) -> List[UserMessage]:
    """The session's user messages, each with the reasons it deserves a look (maybe none)."""
    messages: List[UserMessage] = []
    form_active = False
    for event in events:
        if event.type_name == "user":
            intent = raw_intent(event)
            if intent == STEP_FAILED_INTENT:
                mark(problem_message(messages), "didnt_work")
            if intent == TICKET_INTENT:
                mark(problem_message(messages), "ticket")
            messages.append(user_message(event, min_confidence))
        elif event.type_name == "action" and event.action_name in FALLBACK_ACTIONS and messages:
            messages[-1].reasons.add("fallback")
        elif event.type_name == "active_loop":
            name = event.data.get("name")
            if name == TICKET_FORM and not form_active:
                mark(problem_message(messages[:-1]), "ticket")
            form_active = name == TICKET_FORM
    return messages


# --- review items ------------------------------------------------------------------------------------
@dataclass
class Item:
    """Every occurrence of one (normalised) message."""

    text: str
    predicted_intent: Optional[str]
    confidence: Optional[float]
    reasons: Set[str]
    count: int
    first_seen: float
    last_seen: float

    def add(self, message: UserMessage) -> None:
        self.count += 1
        self.reasons |= message.reasons
        if message.confidence is not None and (self.confidence is None or message.confidence < self.confidence):
            self.confidence, self.predicted_intent = message.confidence, message.intent
        self.first_seen = min(self.first_seen, message.timestamp)
        self.last_seen = max(self.last_seen, message.timestamp)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "text": self.text,
            "predicted_intent": self.predicted_intent or "",
            "confidence": round(self.confidence, 2) if self.confidence is not None else None,
            "reasons": [r for r in REASONS if r in self.reasons],
            "count": self.count,
            "language": language_of(self.text),
            "first_seen": seen(self.first_seen),
            "last_seen": seen(self.last_seen),
            "intent": "",
        }


def seen(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class ExportStats:
    read: int = 0
    conversations: int = 0
    flagged: int = 0
    payloads: int = 0
    empty: int = 0
    too_long: int = 0
    known: int = 0
    skipped_before: int = 0


def skip_reason(text: str, key: str, known: Set[str], skipped: Set[str], max_length: int) -> Optional[str]:
    """Why a flagged message is not exported (None: export it)."""
    if is_payload(text):
        return "payloads"
    if not normalise(_MASKS.sub("", text)):
        return "empty"
    if len(text) > max_length:
        return "too_long"
    if key in known:
        return "known"
    if key in skipped:
        return "skipped_before"
    return None


def collect_items(
    sessions: Iterable[List[Event]],
    min_confidence: float,
    known: Set[str],
    skipped: Set[str],
    max_length: int,
    stats: ExportStats,
) -> List[Item]:
    """The flagged messages worth a trainer's look, masked and de-duplicated, most frequent first."""
    items: Dict[str, Item] = {}
    for session in sessions:
        stats.conversations += 1
        for message in flag_session(session, min_confidence):
            stats.read += 1
            if not message.reasons:
                continue
            stats.flagged += 1
            text = one_line(mask_personal(message.text))
            key = normalise(text)
            why = skip_reason(text, key, known, skipped, max_length)
            if why:
                setattr(stats, why, getattr(stats, why) + 1)
                continue
            if key not in items:
                items[key] = Item(
                    text, message.intent, message.confidence, set(), 0, message.timestamp, message.timestamp
                )
            items[key].add(message)
    return sorted(
        items.values(), key=lambda i: (-i.count, i.confidence if i.confidence is not None else 1.0, i.first_seen)
    )


# --- the review file ---------------------------------------------------------------------------------
HEADER = """\
# Messages from real conversations that the assistant may have misunderstood.
# {note}
#
# What to do: for each item, write what the user meant after `intent:`, then run
#     make review-merge FILE={path}
# It adds those messages to the training data (data/nlu/) and removes them from this file.
#     intent: forgot_password    one of the intents listed at the end of this header
#     intent: faq/code_expiry    a question the FAQ answers: faq/ and the FAQ's key
#     intent: out_of_scope       something the assistant should not handle
#     intent: skip               useless for training (never exported again; see {skipped})
#     intent: ""                 not decided yet: the item stays here
# You may correct `text`. [email], [phone] and [hidden] stand for personal data that was removed.
# The other fields say why the message is here (changing them has no effect):
#   reasons     fallback: the assistant did not understand
#               low_confidence: it was unsure (confidence below {min_confidence})
#               didnt_work: the user later said a step didn't work
#               ticket: the conversation ended in a ticket
#   predicted_intent, confidence: what the assistant guessed, and how sure it was (0 to 1)
#   count       how many times users sent this message
#   language    en or zh: Chinese goes to data/nlu/zh/ when that file has the intent,
#               otherwise next to the English examples
#
# Intents:
{intents}
"""


def header(path: Path, note: str, intents: Sequence[str], min_confidence: float = MIN_CONFIDENCE) -> str:
    listed = textwrap.wrap(", ".join(intents), width=96, initial_indent="#   ", subsequent_indent="#   ")
    return HEADER.format(
        note=note,
        path=path,
        skipped=path.parent / SKIPPED_NAME,
        min_confidence=min_confidence,
        intents="\n".join(listed),
    )


def quoted(value: str) -> str:
    """A YAML double-quoted scalar on one line."""
    return yaml.safe_dump(value, default_style='"', allow_unicode=True, width=float("inf")).rstrip("\n")


def scalar(value: Any) -> str:
    """A value as YAML: names plain, numbers as they are, any other text double-quoted."""
    if value is None:
        return '""'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and _NAME.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return quoted(str(value))


def item_yaml(item: Dict[str, Any]) -> str:
    """One review item as YAML, fields in a fixed order (unknown fields kept at the end)."""
    keys = [k for k in FIELDS if k in item] + [k for k in item if k not in FIELDS]
    lines = []
    for number, key in enumerate(keys):
        value = item[key]
        if key == "text":
            rendered = quoted(str(value))
        elif isinstance(value, list):
            rendered = "[" + ", ".join(scalar(v) for v in value) + "]"
        else:
            rendered = scalar(value)
        lines.append(f"{'- ' if number == 0 else '  '}{key}: {rendered}")
    return "\n".join(lines) + "\n"


def write_review(
    path: Path, items: List[Dict[str, Any]], note: str, intents: Sequence[str], min_confidence: float = MIN_CONFIDENCE
) -> None:
    body = "items:\n" + "".join(item_yaml(i) for i in items) if items else "items: []\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, header(path, note, intents, min_confidence) + body)


def read_review(path: Path) -> List[Dict[str, Any]]:
    """The items of a review file (a YAML mistake is reported with its line)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"can't read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise UserError(f"{path} is not valid YAML any more ({error}); check the quotes around texts") from error
    items = document.get("items") if isinstance(document, dict) else document
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise UserError(f"{path}: expected `items:` followed by a list of items")
    return items


def answer(item: Dict[str, Any]) -> str:
    """The trainer's `intent` ("" when not filled in)."""
    value = item.get("intent")
    return "" if value is None else str(value).strip()


def read_skipped(path: Path) -> List[str]:
    if not path.exists():
        return []
    texts = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [str(t) for t in texts] if isinstance(texts, list) else []


def add_skipped(path: Path, texts: List[str]) -> None:
    """Remember texts marked `skip` so that export leaves them out."""
    if not texts:
        return
    body = "".join(f"- {quoted(t)}\n" for t in read_skipped(path) + texts)
    write_atomically(
        path,
        "# Messages a trainer marked `skip`: `make review-export` leaves them out.\n"
        "# Delete a line to have that message exported again.\n" + body,
    )


# --- export ------------------------------------------------------------------------------------------
def parse_since(value: str) -> float:
    """An ISO date or date-time (UTC unless it names a zone) as a Unix time."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO date like 2026-11-01: {value!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def carry_over(path: Path, items: List[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], int]:
    """Keep the answers already filled in an existing review file (also for items not found again)."""
    if not path.exists():
        return items, 0
    answered = {normalise(str(i.get("text", ""))): i for i in read_review(path) if answer(i)}
    for item in items:
        old = answered.pop(normalise(item["text"]), None)
        if old is not None:
            item["intent"], item["text"] = answer(old), str(old.get("text", item["text"]))
    kept = sum(1 for i in items if i["intent"]) + len(answered)
    return items + list(answered.values()), kept


def export(args: argparse.Namespace) -> int:
    data = load_nlu(args.data_dir, [args.test_data])
    skipped_file = args.out.parent / SKIPPED_NAME
    skipped = {normalise(t) for t in read_skipped(skipped_file)}
    stats = ExportStats()
    events = read_events(args.db_url, args.since, args.timeout)
    items = collect_items(
        conversations(events), args.min_confidence, set(data.examples), skipped, args.max_length, stats
    )
    found = [i.as_dict() for i in items]
    rows, kept = carry_over(args.out, found)
    note = (
        f"Exported {seen(datetime.now(timezone.utc).timestamp())} from {safe_url(args.db_url)}"
        + (f" (messages since {args.since_text})" if args.since_text else "")
        + "."
    )
    write_review(args.out, rows, note, valid_intents(args.domain, data), args.min_confidence)
    print(
        f"Read {stats.read} user messages in {stats.conversations} conversations; "
        f"{stats.flagged} were fallbacks, unsure, or came before a failure or ticket."
    )
    print(f"Exported {len(found)} messages ({sum(i.count for i in items)} occurrences) to {args.out}.")
    left_out = [
        f"{stats.known} already in the training or test data",
        f"{stats.payloads} button clicks",
        f"{stats.empty} empty",
        f"{stats.skipped_before} marked skip before",
        f"{stats.too_long} longer than {args.max_length} characters",
    ]
    print("Left out: " + ", ".join(left_out) + ".")
    if kept:
        print(f"Kept {kept} answers already filled in {args.out}.")
    return 0


# --- merge -------------------------------------------------------------------------------------------
@dataclass
class MergePlan:
    """What a merge will do; nothing is written until the whole plan is valid."""

    originals: Dict[Path, str] = field(default_factory=dict)
    contents: Dict[Path, str] = field(default_factory=dict)
    added: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    remaining: List[Dict[str, Any]] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)


def describe(number: int, item: Dict[str, Any]) -> str:
    return f"item {number} ({str(item.get('text', ''))[:60]!r})"


def unknown_intent(number: int, item: Dict[str, Any], intent: str, intents: Sequence[str]) -> str:
    close = difflib.get_close_matches(intent, intents, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return f"{describe(number, item)}: unknown intent {intent!r}.{hint}"


def annotated_entity(match: "re.Match[str]") -> Optional[str]:
    """The entity named by an annotation: [text](entity), [text](entity:value) or [text]{"entity": ...}."""
    if match.group(2) is not None:
        return match.group(2).split(":", 1)[0].strip()
    try:
        value = json.loads(match.group(0)[len(match.group(1)) + 2 :])
    except ValueError:
        return None
    return value.get("entity") if isinstance(value, dict) else None


def check_annotations(text: str, entities: Set[str]) -> Optional[str]:
    """An error when the text has an entity annotation Rasa would not accept."""
    for match in ANNOTATION.finditer(text):
        entity = annotated_entity(match)
        if entity not in entities:
            return (
                f"{match.group(0)!r} would be read as an entity annotation; write it differently "
                f"(entities: {', '.join(sorted(entities))})"
            )
    return None


def plan_item(
    plan: MergePlan,
    data: NluData,
    number: int,
    item: Dict[str, Any],
    intents: Sequence[str],
    entities: Set[str],
    display: Path,
) -> None:
    intent, text = answer(item), one_line(str(item.get("text") or ""))
    if intent.lower() == SKIP:
        plan.skipped.append(text)
        return
    if intent not in intents:
        plan.errors.append(unknown_intent(number, item, intent, intents))
        return
    target = data.target_file(intent, language_of(text))
    problem = (
        "it has no text"
        if not normalise(text)
        else f"no file in {display} holds intent {intent} yet"
        if target is None
        else check_annotations(text, entities)
    )
    if problem or target is None:  # no target is one of the problems above
        plan.errors.append(f"{describe(number, item)}: {problem}")
        return
    key = normalise(text)
    if key in data.examples:
        where = data.example_files[key]
        if not data.is_training(where):
            plan.notes.append(
                f"NOT added: {text!r} is in the held-out test data ({where}), which must stay out of the training data"
            )
        elif data.examples[key] == intent:
            plan.notes.append(f"already there: {text!r} ({intent} in {where})")
        else:
            plan.notes.append(
                f"NOT added, kept in the review file: {text!r} is already an example of "
                f"{data.examples[key]} in {where}; change it there if that is wrong"
            )
            plan.remaining.append(item)
        return
    if target not in plan.originals:
        plan.originals[target] = read_exactly(target)
    try:
        content = append_example(plan.contents.get(target) or plan.originals[target], intent, text)
        check_example_added(content, target, intent, text)
    except NluFileError as error:
        plan.errors.append(f"{describe(number, item)}: can't add it to {target}: {error}")
        return
    plan.contents[target] = content
    data.examples[key], data.example_files[key] = intent, target
    plan.added.append(f"added to {target} ({intent}): {text!r}")


def read_exactly(path: Path) -> str:
    """A file's text with its line endings as they are."""
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def write_plan(plan: MergePlan) -> None:
    """Write the edited training files, unless someone changed one of them meanwhile."""
    changed = [str(p) for p, text in plan.originals.items() if read_exactly(p) != text]
    if changed:
        raise UserError(
            f"{', '.join(changed)} changed while merging (someone else is editing?); "
            "nothing was merged, run the merge again"
        )
    for path, content in plan.contents.items():
        write_atomically(path, content)


def plan_merge(
    items: List[Dict[str, Any]], data: NluData, intents: Sequence[str], entities: Set[str], display: Path
) -> MergePlan:
    plan = MergePlan()
    for number, item in enumerate(items, start=1):
        if not answer(item):
            plan.remaining.append(item)
        else:
            plan_item(plan, data, number, item, intents, entities, display)
    return plan


def merge(args: argparse.Namespace) -> int:
    items = read_review(args.file)
    data = load_nlu(args.data_dir, [args.test_data])
    intents = valid_intents(args.domain, data)
    plan = plan_merge(items, data, intents, domain_entities(args.domain), args.data_dir)
    if plan.errors:
        print(f"Nothing was merged. Fix these in {args.file} and run the merge again:", file=sys.stderr)
        for error in plan.errors:
            print(f"  - {error}", file=sys.stderr)
        print("Valid intents: " + ", ".join(intents) + f", or {SKIP}.", file=sys.stderr)
        return 1
    write_plan(plan)
    add_skipped(args.file.parent / SKIPPED_NAME, plan.skipped)
    write_review(
        args.file, plan.remaining, f"Updated by review-merge {seen(datetime.now(timezone.utc).timestamp())}.", intents
    )
    for line in plan.added + plan.notes:
        print(line)
    print(
        f"Added {len(plan.added)} examples, {len(plan.skipped)} marked skip; "
        f"{len(plan.remaining)} items left in {args.file}."
    )
    if plan.added:
        print("Retrain to use them: make train (make run trains too); make test checks the data.")
    return 0


# --- command line ------------------------------------------------------------------------------------
def default_db_url() -> str:
    """The tracker store the running bot writes (core.settings: TRACKER_DB_URL, else the profile's)."""
    return get_settings().tracker_database_url()


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m trainer.review", description=__doc__.split("\n\n")[0])
    commands = main.add_subparsers(dest="command", required=True)
    out = commands.add_parser("export", help="write the messages to review")
    out.add_argument(
        "--db-url",
        default=default_db_url(),
        help=f"tracker store SQLAlchemy URL (default: TRACKER_DB_URL, else the profile's: {DEFAULT_DB_URL})",
    )
    out.add_argument("--since", dest="since_text", metavar="DATE", help="only messages from this ISO date (UTC)")
    out.add_argument("--out", type=Path, default=DEFAULT_OUT, help="review file (default: %(default)s)")
    out.add_argument(
        "--min-confidence",
        type=float,
        default=MIN_CONFIDENCE,
        help="below this intent confidence a message is exported (default: %(default)s)",
    )
    out.add_argument("--max-length", type=int, default=MAX_LENGTH, help="longer messages are left out")
    out.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the database")
    into = commands.add_parser("merge", help="add the labelled messages to the training data")
    into.add_argument("file", type=Path, help="the review file a trainer filled in")
    for command in (out, into):
        command.add_argument(
            "--data-dir", type=Path, default=Path("data/nlu"), help="NLU training data (default: %(default)s)"
        )
        command.add_argument("--domain", type=Path, default=Path("domain.yml"))
        command.add_argument(
            "--test-data",
            type=Path,
            default=Path("tests/nlu"),
            help="held-out test data: never copied into training (default: %(default)s)",
        )
    return main


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        for path in (args.data_dir, args.domain):
            if not path.exists():
                raise UserError(f"{path} not found: run this in the project directory, or pass --data-dir and --domain")
        if args.command == "export":
            args.since = parse_since(args.since_text) if args.since_text else None
            return export(args)
        return merge(args)
    except argparse.ArgumentTypeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (UserError, TrackerDbError, NluFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
