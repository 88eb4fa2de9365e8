"""core/settings.py: the ticket backend's settings (issue 16): TICKET_BACKEND, the outbox, Request Tracker."""

from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError, helpdesk_url, parse_priorities

RT = {"TICKET_BACKEND": "rt", "RT_URL": "https://rt.corp.example/rt", "RT_TOKEN": "1-2-secret-token"}


def test_builtin_is_the_default_and_needs_nothing() -> None:
    settings = Settings.from_environ({})
    assert settings.ticket_backend == "builtin"
    assert (settings.ticket_backend_timeout, settings.ticket_outbox_worker) == (10.0, True)
    assert settings.rt_priority_map() == {"High": 80, "Medium": 50, "Low": 20}


def test_rt_needs_a_url_and_credentials() -> None:
    assert Settings.from_environ(RT).rt_url == "https://rt.corp.example/rt/"
    basic = {**RT, "RT_TOKEN": "", "RT_USER": "assistant", "RT_PASSWORD": " pass word "}
    assert Settings.from_environ(basic).rt_password == " pass word "  # taken as it is
    for missing, says in (("RT_URL", "needs RT_URL"), ("RT_TOKEN", "needs RT_TOKEN, or RT_USER and RT_PASSWORD")):
        with pytest.raises(SettingsError, match=says):
            Settings.from_environ({**RT, missing: ""})


@pytest.mark.parametrize(
    "url",
    ["http://rt.corp.example/", "ftp://rt.corp.example/", "https://user:pw@rt.corp.example/", "https://rt/?a=1", "rt"],
)
def test_a_helpdesk_url_is_https_without_credentials(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environ({**RT, "RT_URL": url})
    assert "RT_URL" in str(raised.value) and "pw" not in str(raised.value).replace("pw@", "")


def test_plain_http_only_to_a_local_helpdesk() -> None:
    assert helpdesk_url("http://127.0.0.1:8089") == "http://127.0.0.1:8089/"
    assert helpdesk_url("http://localhost/rt/") == "http://localhost/rt/"
    with pytest.raises(ValueError):
        helpdesk_url("http://10.0.0.5/")


def test_the_token_never_shows() -> None:
    settings = Settings.from_environ({**RT, "RT_PASSWORD": "pw-secret"})
    assert "1-2-secret-token" not in repr(settings) and "pw-secret" not in repr(settings)


def test_priorities_map_each_of_ours_once() -> None:
    assert parse_priorities("low:1, HIGH:100,Medium:0") == (("High", 100), ("Medium", 0), ("Low", 1))
    for bad in ("High:80,Medium:50", "High:80,Medium:50,Low:20,High:1", "High:101,Medium:1,Low:1", "Urgent:1"):
        with pytest.raises(ValueError):
            parse_priorities(bad)
    with pytest.raises(SettingsError, match="RT_PRIORITIES"):
        Settings.from_environ({"RT_PRIORITIES": "High:x"})


def test_unknown_backend_and_bad_numbers_stop_the_process() -> None:
    for environ, variable in (
        ({"TICKET_BACKEND": "zammad"}, "TICKET_BACKEND"),
        ({"TICKET_BACKEND_TIMEOUT": "0"}, "TICKET_BACKEND_TIMEOUT"),
        ({"TICKET_OUTBOX_WORKER": "maybe"}, "TICKET_OUTBOX_WORKER"),
        ({"TICKET_OUTBOX_MAX_BACKOFF": "-1"}, "TICKET_OUTBOX_MAX_BACKOFF"),
    ):
        with pytest.raises(SettingsError, match=variable):
            Settings.from_environ(environ)
    assert (
        Settings.from_environ(
            {"TICKET_BACKEND": " RT ", **{k: v for k, v in RT.items() if k != "TICKET_BACKEND"}}
        ).ticket_backend
        == "rt"
    )
