"""core/settings.py: the README's table and the code name the same variables with the same defaults,
one boolean parser, one rule for the ticket database, and nothing else reads the environment."""

from __future__ import annotations

import ast
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

from core.settings import (
    DEFAULT_TICKETS_DB_PATH,
    PROJECT_ROOT,
    Settings,
    SettingsError,
    get_settings,
    main,
    parse_bool,
)

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
SHELL_FILES = [ROOT / "scripts" / "run.sh", ROOT / "deploy" / "docker-entrypoint.sh", ROOT / "endpoints.production.yml"]
# Packages whose modules must not read the environment themselves.
PACKAGES = ("core", "actions", "channels", "components", "stores", "tickets", "trainer", "tools")
# Functions that only build the environment of child processes (Rasa's and TensorFlow's variables):
# (file, or folder prefix, relative to the project) → function name.
CHILD_ENVIRONMENT_WRITERS = {("trainer/report_run.py", "prepare_environment"), ("tools/bench", "base_env")}


# -- the README table ------------------------------------------------------------------------------
@dataclass
class Row:
    variable: str
    default: str
    type: str
    readers: List[str]
    what: str

    @property
    def read_by_python(self) -> bool:
        return any(reader.endswith(".py") for reader in self.readers)


def readme_rows() -> List[Row]:
    """The rows of the one table in the README's "## Settings" section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Settings\n") :]
    section = section[: section.index("\n## ", 1)]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0].replace(" ", "") == "|variable|default|type|whoreadsit|whatitdoes|", lines[0]
    assert sum(1 for line in section.splitlines() if re.fullmatch(r"\|(-+\|)+", line)) == 1, "one table"
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        assert len(cells) == 5, line
        (variable,) = re.fullmatch(r"`([A-Z][A-Z0-9_]*)`", cells[0]).groups()  # type: ignore[union-attr]
        readers = re.findall(r"`([^`]+)`", cells[3])
        rows.append(Row(variable, cells[1], cells[2], readers, cells[4]))
    return rows


def documented_default(cell: str) -> Optional[str]:
    """None for "unset…", else the first `code` of the cell (also None when there is none)."""
    if cell.startswith("unset"):
        return None
    code = re.search(r"`([^`]*)`", cell)
    return code.group(1) if code else None


def kind(field_type: Any) -> Optional[type]:
    """bool, int, float, Path or str for a field's type (constrained numbers are subclasses), else None."""
    for base in (bool, int, float, Path, str):
        if isinstance(field_type, type) and issubclass(field_type, base):
            return base
    return None


def parse_documented(value: str, field_type: Any) -> Any:
    if typing.get_origin(field_type) is tuple:
        return tuple(value.split(","))
    base = kind(field_type)
    if base is bool:
        return parse_bool(value)
    return base(value) if base is not None else value


def test_the_readme_table_lists_exactly_the_settings_variables():
    rows = readme_rows()
    names = [row.variable for row in rows]
    assert len(names) == len(set(names)), "a variable listed twice"
    documented = {row.variable for row in rows if row.read_by_python}
    assert documented == set(Settings.env_names().values())


def test_the_readme_table_gives_the_settings_defaults_and_types():
    by_variable = {name.upper(): field for name, field in Settings.__fields__.items()}
    for row in readme_rows():
        if not row.read_by_python:
            continue
        field = by_variable[row.variable]
        if field.default is None:
            assert row.default.startswith("unset"), f"{row.variable}: the default is unset, not {row.default}"
            continue
        written = documented_default(row.default)
        assert written is not None, f"{row.variable}: the default {field.default!r} is not in `code`"
        assert parse_documented(written, field.outer_type_) == field.default, row.variable
        word = {bool: "boolean", int: "integer", float: "number"}.get(kind(field.outer_type_))  # type: ignore[arg-type]
        if word:
            assert row.type.startswith(word), f"{row.variable}: type {row.type!r}, not {word}"
        if typing.get_origin(field.outer_type_) is typing.Literal:
            assert set(re.findall(r"`([^`]+)`", row.type)) == set(typing.get_args(field.outer_type_)), row.variable


def test_the_readers_exist_and_the_shell_ones_use_the_variable():
    for row in readme_rows():
        assert row.readers, f"{row.variable}: nobody reads it"
        for reader in row.readers:
            path = ROOT / reader
            assert path.is_file(), f"{row.variable}: reader {reader} does not exist"
            text = path.read_text(encoding="utf-8")
            if reader.endswith(".py"):
                assert "settings" in text, f"{reader} reads {row.variable} but not through core.settings"
            else:
                assert re.search(rf"\b{row.variable}\b", text), f"{reader} does not mention {row.variable}"


def shell_defaults() -> Iterator[Tuple[str, str, str]]:
    """(file, variable, default) of every `${NAME:-default}` in the scripts and `NAME ?= default` in the Makefile."""
    for path in SHELL_FILES:
        for name, default in re.findall(r"\$\{([A-Z][A-Z0-9_]*):-([^}]*)\}", path.read_text(encoding="utf-8")):
            yield path.name, name, default
    for name, default in re.findall(r"^([A-Z][A-Z0-9_]*) \?= *(.*)$", (ROOT / "Makefile").read_text(), re.M):
        yield "Makefile", name, default.strip()


def test_the_scripts_defaults_are_the_tables():
    """One default per variable: run.sh, the entrypoint and the Makefile agree with the table (and so with the code)."""
    table = {row.variable: documented_default(row.default) for row in readme_rows()}
    checked: Set[str] = set()
    for where, name, default in shell_defaults():
        if name not in table or "$" in default:
            continue  # not a setting (e.g. MIN_INTENT_ACCURACY) or derived from others
        assert (table[name] or "") == default, f"{where}: {name} defaults to {default!r}, the README to {table[name]!r}"
        checked.add(name)
    assert {"TRACKER_DB_HOST", "TRACKER_DB_PORT", "TRACKER_DB_USER", "RASA_PORT", "REDIS_DB"} <= checked


def test_every_variable_the_scripts_and_rasa_read_is_in_the_table():
    table = {row.variable for row in readme_rows()}
    for path in SHELL_FILES:
        code = "\n".join(
            line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
        )
        used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", code))
        assert used <= table, f"{path.name} reads {sorted(used - table)}, missing in the README's Settings"


# -- one boolean parser ----------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["1", "true", "TRUE", "Yes", "on", " on "])
def test_booleans_accept_the_true_words(word):
    assert parse_bool(word) is True
    assert Settings.from_environ({"DINGTALK_ALLOW_HTTP": word}).dingtalk_allow_http is True


@pytest.mark.parametrize("word", ["0", "false", "False", "NO", "off"])
def test_booleans_accept_the_false_words(word):
    assert parse_bool(word) is False
    assert Settings.from_environ({"DINGTALK_ALLOW_HTTP": word}).dingtalk_allow_http is False


@pytest.mark.parametrize("word", ["maybe", "2", "y", "t", "enabled", "-1"])
def test_booleans_refuse_anything_else_with_the_variables_name(word):
    with pytest.raises(ValueError):
        parse_bool(word)
    with pytest.raises(SettingsError, match=rf"DINGTALK_ALLOW_HTTP='{re.escape(word)}': .*not a boolean"):
        Settings.from_environ({"DINGTALK_ALLOW_HTTP": word})


def test_the_stores_use_the_same_parser():
    from stores.connectivity import flag

    assert flag("on") is True and flag("off") is False and flag("") is False and flag(True) is True
    with pytest.raises(ValueError, match="not a boolean"):
        flag("maybe")


# -- the ticket database: one rule -----------------------------------------------------------------
def test_tickets_db_url_when_set_wins_in_every_profile():
    for profile in ("embedded", "production"):
        settings = Settings.from_environ({"TICKETS_DB_URL": "sqlite:////tmp/t.db", "ALIMAIL_PROFILE": profile})
        assert settings.tickets_database_url() == "sqlite:////tmp/t.db"


def test_tickets_go_to_the_tracker_database_in_the_production_profile():
    settings = Settings.from_environ(
        {
            "ALIMAIL_PROFILE": "production",
            "TICKETS_DB_URL": "  ",  # docker-compose's ${TICKETS_DB_URL:-}: unset
            "TRACKER_DB_HOST": "db.internal",
            "TRACKER_DB_PORT": "6543",
            "TRACKER_DB_NAME": "chat",
            "TRACKER_DB_USER": "bot@corp",
            "TRACKER_DB_PASSWORD": "p@ss:word",
        }
    )
    assert settings.tickets_database_url() == "postgresql://bot%40corp:p%40ss%3Aword@db.internal:6543/chat"
    defaults = Settings(alimail_profile="production")
    assert defaults.tickets_database_url() == "postgresql://postgres@127.0.0.1:5432/alimail"


def test_tickets_default_to_the_sqlite_file_of_the_project():
    assert Settings().tickets_database_url() == f"sqlite:///{PROJECT_ROOT / 'var' / 'tickets.sqlite3'}"
    assert DEFAULT_TICKETS_DB_PATH.is_absolute()
    # The tracker parts don't matter outside the production profile.
    assert Settings(tracker_db_host="db.internal").tickets_database_url().startswith("sqlite:///")


def test_the_tracker_store_to_clean_is_the_running_bots():
    """make purge / make scrub: TRACKER_DB_URL if set, else endpoints.production.yml's or endpoints.yml's store."""
    assert Settings().tracker_database_url() == f"sqlite:///{PROJECT_ROOT / 'var' / 'trackers.sqlite3'}"
    production = Settings.from_environ({"ALIMAIL_PROFILE": "production", "TRACKER_DB_HOST": "db.internal"})
    assert production.tracker_database_url() == "postgresql://postgres@db.internal:5432/alimail"
    for profile in ("embedded", "production"):
        chosen = Settings.from_environ({"ALIMAIL_PROFILE": profile, "TRACKER_DB_URL": "sqlite:////tmp/t.db"})
        assert chosen.tracker_database_url() == "sqlite:////tmp/t.db"
    assert Settings.from_environ({"CONVERSATION_RETENTION_DAYS": "7"}).conversation_retention_days == 7
    with pytest.raises(SettingsError, match="^invalid setting: TICKET_TRANSCRIPT_RETENTION_DAYS="):
        Settings.from_environ({"TICKET_TRANSCRIPT_RETENTION_DAYS": "0"})


def test_every_reader_follows_the_rule(monkeypatch, capsys):
    from tickets.store import database_url

    monkeypatch.setenv("ALIMAIL_PROFILE", "production")
    monkeypatch.delenv("TICKETS_DB_URL", raising=False)
    monkeypatch.setenv("TRACKER_DB_HOST", "db.internal")
    get_settings.cache_clear()
    expected = get_settings().tickets_database_url()
    assert expected.startswith("postgresql://") and "db.internal" in expected
    assert database_url() == expected  # the store, and so the actions, the staff CLI and the API
    assert main(["tickets-db-url"]) == 0  # run.sh and the container entrypoint
    assert capsys.readouterr().out.strip() == expected


def test_the_command_refuses_an_invalid_setting(monkeypatch, capsys):
    monkeypatch.setenv("TRACKER_DB_PORT", "fivefourthreetwo")
    get_settings.cache_clear()
    assert main(["tickets-db-url"]) == 1
    assert "TRACKER_DB_PORT='fivefourthreetwo': value is not a valid integer" in capsys.readouterr().err
    assert main(["something-else"]) == 2


# -- reading ---------------------------------------------------------------------------------------
def test_empty_is_unset_and_spaces_are_dropped_but_not_from_the_password():
    settings = Settings.from_environ(
        {"TICKET_WEBHOOK_FORMAT": "", "SLACK_BOT_TOKEN": " xoxb-1 ", "TRACKER_DB_PASSWORD": " secret "}
    )
    assert settings.ticket_webhook_format == "json"
    assert settings.slack_bot_token == "xoxb-1"
    assert settings.tracker_db_password == " secret "


def test_values_are_typed_and_checked():
    settings = Settings.from_environ(
        {
            "TICKET_WEBHOOK_TIMEOUT": "2.5",
            "TICKET_WEBHOOK_RETRIES": "4",
            "TICKET_WEBHOOK_FORMAT": "DingTalk",
            "DINGTALK_WEBHOOK_HOSTS": " A.example., ,b.example ",
            "KNOWLEDGE_FILE": "/srv/kb.yml",
            "STAFF_LANGUAGE": "ZH",
        }
    )
    assert (settings.ticket_webhook_timeout, settings.ticket_webhook_retries) == (2.5, 4)
    assert settings.ticket_webhook_format == "dingtalk" and settings.staff_language == "zh"
    assert settings.dingtalk_webhook_hosts == ("a.example", "b.example")
    assert settings.knowledge_path() == Path("/srv/kb.yml")
    assert Settings().knowledge_path(Path("/copy")) == Path("/copy/knowledge/alimail_security.yml")
    for variable, value in [
        ("TICKET_WEBHOOK_RETRIES", "11"),
        ("TICKET_WEBHOOK_TIMEOUT", "nan"),
        ("TRACKER_DB_PORT", "70000"),
        ("STORE_CHECK_TIMEOUT", "0"),
        ("ALIMAIL_PROFILE", "staging"),
        ("TICKET_WEBHOOK_FORMAT", "teams"),
    ]:
        with pytest.raises(SettingsError, match=rf"^invalid setting: {variable}="):
            Settings.from_environ({variable: value})


def test_secrets_are_not_shown():
    settings = Settings.from_environ({"SLACK_SIGNING_SECRET": "s3cr3t", "TICKETS_DB_URL": "postgresql://u:pw@h/db"})
    assert "s3cr3t" not in repr(settings) and "pw@" not in str(settings)
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({"TICKETS_API_TOKEN": "tok", "TRACKER_DB_PORT": "x", "TICKET_WEBHOOK_URL": "u"})
    assert "tok" not in str(refused.value)


def test_settings_are_read_once(monkeypatch):
    monkeypatch.setenv("STORE_CHECK_TIMEOUT", "7")
    first = get_settings()
    monkeypatch.setenv("STORE_CHECK_TIMEOUT", "8")
    assert get_settings() is first and first.store_check_timeout == 7.0
    get_settings.cache_clear()
    assert get_settings().store_check_timeout == 8.0


def test_a_mapping_is_all_that_is_read(monkeypatch):
    monkeypatch.setenv("STORE_CHECK_TIMEOUT", "7")
    assert Settings.from_environ({}).store_check_timeout == 5.0
    assert Settings().store_check_timeout == 5.0


# -- nobody else reads the environment -------------------------------------------------------------
def environment_reads(path: Path) -> Iterator[Tuple[int, Optional[str]]]:
    """(line, enclosing function) of every os.environ / os.getenv / `from os import environ` in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions: Dict[ast.AST, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for child in ast.walk(node):
                functions[child] = node.name  # ast.walk is outer-first: the innermost function wins
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "getenvb"):
            if isinstance(node.value, ast.Name) and node.value.id in ("os", "posix", "_os"):
                yield node.lineno, functions.get(node)
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "posix"):
            if any(alias.name in ("environ", "environb", "getenv", "getenvb") for alias in node.names):
                yield node.lineno, functions.get(node)


def allowed(relative: str, function: Optional[str]) -> bool:
    return any(
        (relative == where or relative.startswith(where + "/")) and function == name
        for where, name in CHILD_ENVIRONMENT_WRITERS
    )


def test_only_core_settings_reads_the_environment():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative == "core/settings.py":
                continue
            for line, function in environment_reads(path):
                if not allowed(relative, function):
                    offenders.append(f"{relative}:{line} ({function or 'module level'})")
    assert not offenders, "read the environment through core.settings instead: " + ", ".join(offenders)


def test_the_scan_finds_reads(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "import os\nfrom os import getenv\nX = os.environ.get('A')\n"
        "def f():\n    return os.getenv('B')\ndef base_env():\n    return dict(os.environ)\n"
    )
    assert sorted(environment_reads(module)) == [(2, None), (3, None), (5, "f"), (7, "base_env")]
    assert allowed("tools/bench/bots.py", "base_env") and not allowed("tools/other.py", "base_env")
