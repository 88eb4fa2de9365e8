"""tools/serve.py: Rasa starts only through the patches, and not at all on an untested Rasa version.
(The same in a fresh process: tests/integration/tools/test_serve.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import rasa

from core.settings import Settings
from tools import serve


def test_an_untested_rasa_exits_with_the_reason_before_rasa_sees_the_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa, "__version__", "9.9.9")
    monkeypatch.setattr(sys, "argv", ["serve", "--not-a-rasa-option"])
    with pytest.raises(SystemExit) as exit_info:
        serve.main(["run", "--no-such-flag"])
    assert str(exit_info.value.code).startswith("Not starting: Rasa 9.9.9 is installed")
    assert sys.argv == ["serve", "--not-a-rasa-option"]  # untouched: Rasa's CLI never ran


# -- who may reach what: checked before Rasa starts -----------------------------------------------------
REST_ONLY = "channels.rest.RestInput: {}\n"


@pytest.fixture
def credentials(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "credentials.yml"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def run_args(credentials_file: str, *extra: str) -> list:
    return ["--model", "m.tar.gz", "--credentials", credentials_file, *extra]


def test_rest_on_loopback_needs_no_token(credentials):
    for interface in ("127.0.0.1", "localhost", "::1"):
        assert serve.rasa_problem("run", run_args(credentials(REST_ONLY), "--interface", interface), Settings()) is None


@pytest.mark.parametrize("interface", [None, "0.0.0.0", "10.1.2.3", "assistant.corp.example"])
def test_our_rest_channel_elsewhere_needs_the_token(credentials, interface):
    args = run_args(credentials(REST_ONLY), *(["-i", interface] if interface else []))
    problem = serve.rasa_problem("run", args, Settings())
    assert problem and "REST_API_TOKEN" in problem and (interface or "0.0.0.0") in problem
    assert serve.rasa_problem("run", args, Settings(rest_api_token="t")) is None


@pytest.mark.parametrize("channel", ["rest:\n", "callback:\n  url: http://x\n"])
def test_rasas_own_body_trusting_channels_are_refused_on_an_exposed_interface(credentials, channel):
    args = run_args(credentials(channel), "--interface", "0.0.0.0")
    problem = serve.rasa_problem("run", args, Settings(rest_api_token="t"))
    assert problem and "channels.rest.RestInput" in problem
    assert serve.rasa_problem("run", run_args(credentials(channel), "--interface", "127.0.0.1"), Settings()) is None


def test_without_a_rest_channel_any_interface_is_fine(credentials):
    args = run_args(credentials("channels.slack.SlackChannel: {}\n"), "--interface", "0.0.0.0")
    assert serve.rasa_problem("run", args, Settings()) is None
    assert serve.rasa_problem("run", [*args, "--connector", "rest"], Settings()) is not None  # --connector wins


def test_the_production_profile_needs_the_action_server_token(credentials):
    args = run_args(credentials(REST_ONLY), "--interface", "127.0.0.1")
    assert "ACTION_SERVER_TOKEN" in (serve.rasa_problem("run", args, Settings(alimail_profile="production")) or "")
    settings = Settings(alimail_profile="production", action_server_token="t")
    assert serve.rasa_problem("run", args, settings) is None
    assert serve.rasa_problem("train", [], Settings(alimail_profile="production")) is None  # only servers


def test_the_shell_stays_on_loopback_and_rasa_run_actions_is_refused():
    assert serve.rasa_problem("shell", ["--model", "m"], Settings()) is None
    assert serve.rasa_problem("shell", ["--interface", "0.0.0.0"], Settings(rest_api_token="t"))
    assert "tools.serve actions" in (serve.rasa_problem("run", ["actions"], Settings()) or "")


def test_main_refuses_with_the_reason_before_rasa_sees_the_arguments(monkeypatch, credentials):
    monkeypatch.setattr(serve, "_settings", lambda: Settings())
    monkeypatch.setattr(sys, "argv", ["serve"])
    with pytest.raises(SystemExit) as exit_info:
        serve.main(["run", *run_args(credentials(REST_ONLY), "--interface", "0.0.0.0")])
    assert str(exit_info.value.code).startswith("Not starting: the REST channel")
    assert sys.argv == ["serve"]


def test_the_shell_is_served_on_loopback_unless_told(monkeypatch):
    import rasa.__main__

    seen = []
    monkeypatch.setattr(serve, "_settings", lambda: Settings())
    monkeypatch.setattr(rasa.__main__, "main", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["serve"])
    serve.main(["shell", "--model", "m"])
    serve.main(["shell", "--model", "m", "-i", "127.0.0.2"])
    assert seen == [
        ["rasa", "shell", "--model", "m", "--interface", "127.0.0.1"],
        ["rasa", "shell", "--model", "m", "-i", "127.0.0.2"],
    ]


def test_preflight(credentials, capsys):
    path = credentials(REST_ONLY)
    ok = ["--interface", "127.0.0.1", "--action-host", "127.0.0.1", "--credentials", path]
    assert serve.preflight(ok, Settings()) is None
    exposed_rest = ["--interface", "0.0.0.0", "--action-host", "127.0.0.1", "--credentials", path]
    assert "REST_API_TOKEN" in (serve.preflight(exposed_rest, Settings()) or "")
    exposed_actions = ["--interface", "127.0.0.1", "--action-host", "0.0.0.0", "--credentials", path]
    assert "ACTION_SERVER_TOKEN" in (serve.preflight(exposed_actions, Settings()) or "")
    assert "production profile" in (serve.preflight(ok, Settings(alimail_profile="production")) or "")


# -- which model the server will load: TensorFlow is kept out when it does not need it ----------------
def test_the_model_to_load_is_rasas_choice(tmp_path, monkeypatch) -> None:
    import os

    monkeypatch.chdir(tmp_path)
    assert serve.model_to_load(["--endpoints", "none.yml"]) is None  # no models/ folder yet
    (tmp_path / "models").mkdir()
    older, newer = tmp_path / "models" / "a.tar.gz", tmp_path / "models" / "b.tar.gz"
    older.write_bytes(b"1")
    newer.write_bytes(b"2")
    os.utime(older, (1, 1))
    assert serve.model_to_load([]) == Path("models/b.tar.gz")  # the newest in Rasa's default folder
    assert serve.model_to_load(["--model", str(older)]) == older
    assert serve.model_to_load(["-m", "models"]) == Path("models/b.tar.gz")


def test_a_model_rasa_may_fetch_from_elsewhere_is_not_known(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "m.tar.gz"
    model.write_bytes(b"1")
    assert serve.model_to_load(["--model", str(model), "--remote-storage", "aws"]) is None
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("models:\n  url: http://models.example/model.tar.gz\n", encoding="utf-8")
    assert serve.model_to_load(["--model", str(model), "--endpoints", str(endpoints)]) is None
    assert serve.model_to_load(["--model", str(model)]) is None  # Rasa's default endpoints.yml names it too
    endpoints.write_text("action_endpoint:\n  url: http://127.0.0.1:5055/webhook\n", encoding="utf-8")
    assert serve.model_to_load(["--model", str(model)]) == model
