"""The web chat in a real browser: Chromium (Debian's, driven by Playwright) against the real servers.

Needs `make webchat` (the widget in build/webchat) and /usr/bin/chromium (`make browser`).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import List

import jwt
import pytest
import requests

from tests.e2e.servers import (
    ROOT,
    WEBCHAT_JWT_KEY,
    WEBCHAT_PORTAL,
    Servers,
    SharedServers,
    channels_config,
    identity_config,
    tokens_config,
    wait_until,
)
from tickets.store import TicketStore
from tools import processes

playwright_sync = pytest.importorskip("playwright.sync_api")
sync_playwright, expect = playwright_sync.sync_playwright, playwright_sync.expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The "intranet portal" pages of the origin test come from Playwright (a public address space to
    # Chromium) and the chat server is on loopback; in an intranet both are private.
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests",
]
SCREENSHOT = ROOT / "test-output" / "webchat.png"
PAGE = "/webhooks/socketio/webchat/"
MARKUP = "<img src=x onerror=alert(1)>"
TICKET_ID = re.compile(r"ALM-\d{6}")
JWT_KEY = WEBCHAT_JWT_KEY
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def widget_built() -> None:
    if not (ROOT / "build" / "webchat" / "widget.js").is_file():
        pytest.fail("the widget is not built: run `make webchat`")


@pytest.fixture(scope="module")
def chat_servers(shared_servers: SharedServers, fake_slack, widget_built) -> Servers:
    """The session's servers with every channel configured: the web chat anonymous, on its own origin
    (credentials.yml: session_persistence, user_uttered / bot_uttered)."""
    return shared_servers.get(channels_config(fake_slack.url))


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install -y chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def dialogs() -> List[str]:
    return []


@pytest.fixture
def page(browser, dialogs):
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


# --- helpers -------------------------------------------------------------------------------------
def open_chat(page, servers: Servers) -> None:
    page.goto(servers.rasa_url + PAGE)
    expect(page.locator(".amw-status.amw-online")).to_be_visible()


def bot_texts(page) -> List[str]:
    return page.locator(".amw-bot .amw-text").all_inner_texts()


def wait_for_bot(page, pattern: str) -> None:
    expect(page.locator(".amw-bot .amw-text").filter(has_text=re.compile(pattern)).last).to_be_visible()


def type_message(page, text: str) -> None:
    page.locator(".amw-input").fill(text)
    page.locator(".amw-input").press("Enter")
    expect(page.locator(".amw-user .amw-text").last).to_have_text(text)


def click_button(page, title: str) -> None:
    page.locator(".amw-buttons .amw-button", has_text=title).last.click()
    expect(page.locator(".amw-user .amw-text").last).to_have_text(title)


def restart_rasa(servers: Servers) -> None:
    """Stop the Rasa server and start it again with the same command on the same port."""
    rasa = servers.processes[1]
    args = rasa.args
    processes.stop(rasa, grace=30)
    log = Path(args[args.index("--endpoints") + 1]).parent / "rasa-restarted.log"
    again = processes.start(list(args), ROOT, servers.env, log)  # the same environment too
    servers.processes[1] = again
    wait_until(servers.rasa_url + "/", again, log, 300)


# --- the tests -------------------------------------------------------------------------------------
def test_static_files_have_their_types_and_nothing_else_is_served(chat_servers):
    base = chat_servers.rasa_url + PAGE
    expected = {
        "": "text/html",
        "widget.js": "text/javascript",
        "widget.css": "text/css",
        "socket.io.min.js": "text/javascript",
    }
    for name, content_type in expected.items():
        reply = requests.get(base + name, timeout=10)
        assert reply.status_code == 200, name
        assert reply.headers["Content-Type"].startswith(content_type), (name, reply.headers["Content-Type"])
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in requests.get(base, timeout=10).headers["Content-Security-Policy"]
    for bad in [
        "..%2Fcredentials.yml",
        "%2e%2e%2f%2e%2e%2fcredentials.yml",
        ".ready",
        "nope.js",
        "%2Fetc%2Fpasswd",
        "..%5C..%5Ccredentials.yml",
    ]:
        reply = requests.get(base + bad, timeout=10)
        assert reply.status_code in (400, 404), (bad, reply.status_code)
        assert "rest:" not in reply.text and "root:" not in reply.text
    assert requests.get(chat_servers.rasa_url + "/webhooks/socketio/", timeout=10).json() == {"status": "ok"}


def test_guide_by_buttons_reload_keeps_history_then_ticket(chat_servers, page, dialogs):
    open_chat(page, chat_servers)
    type_message(page, "hi, i forgot my password")
    wait_for_bot(page, "secure phone number")
    click_button(page, "Yes, one of them")
    wait_for_bot(page, r"^Step 1 of 6:")
    # The typing indicator shows from the moment a message is sent until the reply comes.
    shown = page.evaluate("""() => {
        const b = [...document.querySelectorAll('.amw-buttons .amw-button')]
            .find(x => x.textContent === 'Done, next step');
        b.click();
        return !document.querySelector('.amw-typing').hidden;
    }""")
    assert shown
    wait_for_bot(page, r"^Step 2 of 6:")
    expect(page.locator(".amw-typing")).to_be_hidden()
    # Buttons of answered questions are gone; the step label is bold.
    assert page.locator(".amw-bot .amw-step-label", has_text="Step 2 of 6:").count() == 1
    click_button(page, "Done, next step")
    wait_for_bot(page, r"^Step 3 of 6:")
    session_id = page.evaluate("() => JSON.parse(localStorage.getItem(Object.keys(localStorage)[0])).sessionId")
    assert session_id

    page.reload()
    expect(page.locator(".amw-status.amw-online")).to_be_visible()
    texts = bot_texts(page)
    assert any(t.startswith("Step 1 of 6:") for t in texts) and texts[-1].startswith("Step 3 of 6:")
    assert "Yes, one of them" in page.locator(".amw-user .amw-text").all_inner_texts()
    assert page.evaluate("() => JSON.parse(localStorage.getItem(Object.keys(localStorage)[0])).sessionId") == session_id
    # The same conversation goes on after the reload (the socket joined the session's room again).
    click_button(page, "Done, next step")
    wait_for_bot(page, r"^Step 4 of 6:")

    click_button(page, "It didn't work")
    click_button(page, "Open a ticket")
    wait_for_bot(page, "Which email address")
    type_message(page, "jane.doe@corp.example")
    wait_for_bot(page, "Here's the ticket I'll open")
    summary = page.locator(".amw-bot .amw-text", has_text="Here's the ticket I'll open").last
    assert summary.locator("ul.amw-list li").count() >= 3  # the "- " lines are a list
    click_button(page, "Yes, open it")
    wait_for_bot(page, r"ALM-\d{6}")
    ticket_text = page.locator(".amw-bot .amw-text").filter(has_text=TICKET_ID).last
    assert ticket_text.locator("strong", has_text=TICKET_ID).count() == 1  # **ALM-…** is bold
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert not dialogs


def test_a_whole_guide_and_a_ticket_in_chinese(chat_servers, page, dialogs):
    """Typed in Chinese, answered in Chinese: every step, the check, the escalation and the ticket."""
    open_chat(page, chat_servers)
    type_message(page, "忘记密码了，登不上邮箱")
    wait_for_bot(page, "安全手机号或密保问题")
    click_button(page, "有，设置了其中一种")
    for number in range(1, 7):
        wait_for_bot(page, rf"^第 {number} 步（共 6 步）")
        click_button(page, "完成，下一步")
    wait_for_bot(page, "成功了吗")
    click_button(page, "没有成功")
    click_button(page, "提交工单")
    wait_for_bot(page, "技术支持可以通过哪个邮箱地址联系您")
    type_message(page, "wang.fang@corp.example")
    wait_for_bot(page, "我将提交以下工单")
    click_button(page, "是的，提交")
    wait_for_bot(page, r"您的工单 ALM-\d{6} 已在")
    ticket_id = TICKET_ID.search(bot_texts(page)[-1]).group(0)
    ticket = TicketStore(chat_servers.tickets_db_url).get(ticket_id)
    assert (ticket.language, ticket.problem, ticket.contact_email) == (
        "zh",
        "forgot_password",
        "wang.fang@corp.example",
    )
    assert not [t for t in bot_texts(page) if "Step " in t or "Which email" in t]  # nothing fell back to English
    page.screenshot(path=str(SCREENSHOT.with_name("webchat-zh.png")))
    assert not dialogs


def test_markup_in_user_and_bot_text_is_shown_as_text(chat_servers, page, dialogs):
    open_chat(page, chat_servers)
    type_message(page, "open a ticket")
    wait_for_bot(page, "Which email address")
    type_message(page, "sam@corp.example")
    description = f"{MARKUP} my mail https://mail.example.com/x?a=1&b=2 does not work"
    type_message(page, description)
    wait_for_bot(page, "Here's the ticket I'll open")
    summary = page.locator(".amw-bot .amw-text", has_text="Here's the ticket I'll open").last
    assert MARKUP in summary.inner_text()  # the bot echoes the description: shown as text
    assert MARKUP in page.locator(".amw-user .amw-text").last.inner_text()
    assert page.locator(".amw-log img").count() == 0
    links = page.locator(".amw-user a.amw-link")
    assert links.last.get_attribute("href") == "https://mail.example.com/x?a=1&b=2"
    assert links.last.get_attribute("rel") == "noopener noreferrer"
    assert links.last.get_attribute("target") == "_blank"
    page.wait_for_timeout(500)
    assert not dialogs


def test_widget_reconnects_after_the_rasa_server_restarts(chat_servers, page):
    open_chat(page, chat_servers)
    type_message(page, "hi, i forgot my password")
    wait_for_bot(page, "secure phone number")
    restart_rasa(chat_servers)
    expect(page.locator(".amw-status.amw-online")).to_be_visible(timeout=60_000)
    type_message(page, "how long is the sms code valid")
    wait_for_bot(page, "expires after 5 minutes")


def test_identity_token_sets_the_sender_and_skips_the_email_question(shared_servers, widget_built, browser):
    servers = shared_servers.get(identity_config())  # WEBCHAT_JWT_KEY is JWT_KEY
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    # Without a token the server refuses the connection.
    page.goto(servers.rasa_url + PAGE)
    expect(page.locator(".amw-status.amw-offline")).to_be_visible()
    context.close()

    token = jwt.encode(
        {"sub": "E1234", "email": "anna.lee@corp.example", "exp": int(time.time()) + 600},
        JWT_KEY,
        algorithm="HS256",
    )
    context = browser.new_context()
    context.add_init_script(f"window.AlimailWebchatConfig = {{token: {token!r}}};")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    open_chat(page, servers)
    assert (
        page.evaluate("() => JSON.parse(localStorage.getItem(Object.keys(localStorage)[0])).sessionId")
        == "employee-E1234"
    )
    type_message(page, "open a ticket")
    type_message(page, "My mailbox shows a strange warning")
    wait_for_bot(page, "Here's the ticket I'll open")
    assert "anna.lee@corp.example" in page.locator(".amw-bot .amw-text").last.inner_text() + "".join(bot_texts(page))
    assert not any("Which email address" in t for t in bot_texts(page))
    click_button(page, "Yes, open it")
    wait_for_bot(page, r"ALM-\d{6}")
    ticket_id = TICKET_ID.search(bot_texts(page)[-1]).group(0)
    ticket = TicketStore(servers.tickets_db_url).get(ticket_id)
    assert (ticket.channel, ticket.sender_id, ticket.contact_email) == (
        "socketio",
        "employee-E1234",
        "anna.lee@corp.example",
    )
    context.close()


# --- what the browser keeps -------------------------------------------------------------------------
SECRET_MESSAGES = {
    "my password is Hunter2! and it stopped working": "my password is [hidden] and it stopped working",
    "验证码是482913，登录不了": "验证码是[hidden]，登录不了",
}


def kept(page) -> str:
    """Everything this page's origin holds in localStorage, as one string."""
    return page.evaluate("() => JSON.stringify(Object.entries(localStorage))")


def saved_state(page) -> dict:
    return page.evaluate(
        "() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith('alimail-webchat:'))))"
    )


def wait_for_new_session(page, old: str) -> str:
    page.wait_for_function(
        """old => { const k = Object.keys(localStorage).find(k => k.startsWith('alimail-webchat:'));
                   const s = k && JSON.parse(localStorage.getItem(k)).sessionId; return s && s !== old; }""",
        arg=old,
    )
    return saved_state(page)["sessionId"]


def test_a_typed_secret_is_shown_and_kept_only_masked(chat_servers, page, dialogs):
    open_chat(page, chat_servers)
    assert page.evaluate("() => window.AlimailWebchatServerConfig.historyMinutes") == 60  # from the server
    for typed, masked in SECRET_MESSAGES.items():
        page.locator(".amw-input").fill(typed)
        page.locator(".amw-input").press("Enter")
        expect(page.locator(".amw-user .amw-text").last).to_have_text(masked)
    wait_for_bot(page, "secure phone number")  # understood as typed: the forgot-password guide
    stored = kept(page)
    assert "[hidden]" in stored and "Hunter2!" not in stored and "482913" not in stored
    assert "Hunter2!" not in page.content() and "482913" not in page.content()

    page.reload()
    expect(page.locator(".amw-status.amw-online")).to_be_visible()
    assert page.locator(".amw-user .amw-text").all_inner_texts() == list(SECRET_MESSAGES.values())
    stored = kept(page)
    assert "Hunter2!" not in stored and "482913" not in stored
    assert not dialogs


def test_clear_deletes_the_conversation_from_the_browser_and_starts_a_new_one(chat_servers, page):
    open_chat(page, chat_servers)
    type_message(page, "hi, i forgot my password")
    wait_for_bot(page, "secure phone number")
    old_session = saved_state(page)["sessionId"]
    assert old_session and "forgot my password" in kept(page)

    page.get_by_role("button", name="Clear this conversation").click()
    expect(page.locator(".amw-msg")).to_have_count(0)
    expect(page.locator(".amw-note")).to_contain_text("deleted from this browser")
    new_session = wait_for_new_session(page, old_session)
    expect(page.locator(".amw-status.amw-online")).to_be_visible()
    assert saved_state(page)["transcript"] == [] and "forgot my password" not in kept(page)
    # A new conversation: the guide's buttons are gone, and it answers as a fresh one.
    type_message(page, "how long is the sms code valid")
    wait_for_bot(page, "expires after 5 minutes")
    assert page.locator(".amw-bot .amw-text").count() >= 1 and not bot_texts(page)[0].startswith("Step")
    assert saved_state(page)["sessionId"] == new_session

    page.reload()  # stays cleared
    expect(page.locator(".amw-status.amw-online")).to_be_visible()
    assert "forgot my password" not in " ".join(page.locator(".amw-user .amw-text").all_inner_texts())


def test_an_expired_conversation_is_deleted_on_load(chat_servers, page):
    open_chat(page, chat_servers)
    type_message(page, "hi, i forgot my password")
    wait_for_bot(page, "secure phone number")
    old_session = saved_state(page)["sessionId"]
    # The next load finds 61 minutes since the last message (WEBCHAT_HISTORY_MINUTES defaults to 60). Set
    # before the page's scripts run: the page open now may still save a late reply.
    page.add_init_script(
        """{ const k = Object.keys(localStorage).find(k => k.startsWith('alimail-webchat:'));
             const s = JSON.parse(localStorage.getItem(k)); s.lastActive = Date.now() - 61 * 60 * 1000;
             localStorage.setItem(k, JSON.stringify(s)); }"""
    )
    page.reload()
    expect(page.locator(".amw-status.amw-online")).to_be_visible()
    assert wait_for_new_session(page, old_session) != old_session
    expect(page.locator(".amw-msg")).to_have_count(0)
    assert "forgot my password" not in kept(page)


def test_an_idle_conversation_expires_while_the_page_stays_open(chat_servers, browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.clock.install()
    try:
        open_chat(page, chat_servers)
        type_message(page, "hi, i forgot my password")
        wait_for_bot(page, "secure phone number")
        old_session = saved_state(page)["sessionId"]
        page.clock.fast_forward("59:00")
        page.clock.run_for(20_000)  # the expiry check runs
        assert page.locator(".amw-msg").count() > 0  # not yet
        page.clock.fast_forward("02:00")
        page.clock.run_for(20_000)
        expect(page.locator(".amw-msg")).to_have_count(0)
        expect(page.locator(".amw-note")).to_contain_text("idle too long")
        assert "forgot my password" not in kept(page)
        page.clock.resume()
        assert wait_for_new_session(page, old_session) != old_session
    finally:
        context.close()


# --- origins -------------------------------------------------------------------------------------------
PORTAL = WEBCHAT_PORTAL  # the one origin tokens_config() allows


def embedding_page(servers: Servers) -> str:
    """An intranet page (on another origin) with the widget's one tag."""
    return (
        "<!doctype html><html><head><title>portal</title></head><body><h1>Portal</h1>"
        f'<script src="{servers.rasa_url}{PAGE}widget.js" data-server="{servers.rasa_url}" data-open="true" async>'
        "</script></body></html>"
    )


def test_the_widget_works_on_an_allowed_origin_over_websocket_and_polling_and_not_elsewhere(
    shared_servers, widget_built, browser
):
    servers = shared_servers.get(tokens_config())  # WEBCHAT_ALLOWED_ORIGINS is PORTAL
    socket_io = re.compile(re.escape(servers.rasa_url.replace("http", "ws", 1)) + "/socket.io/")
    html = embedding_page(servers)
    for origin, transport in ((PORTAL, "websocket"), (PORTAL, "polling"), ("http://evil.test", "websocket")):
        context = browser.new_context()
        context.route(f"{origin}/**", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
        if transport == "polling":
            # A proxy that lets no WebSocket through: socket.io falls back to long-polling (with CORS).
            context.add_init_script(
                "const RealWebSocket = window.WebSocket;"
                "window.WebSocket = function (url, protocols) {"
                "  return new RealWebSocket('ws://127.0.0.1:9/', protocols);"  # nothing listens there
                "};"
            )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        sockets: List[str] = []
        polls: List[str] = []
        page.on("websocket", lambda ws, seen=sockets: seen.append(ws.url) if socket_io.match(ws.url) else None)
        page.on("request", lambda r, seen=polls: seen.append(r.url) if "transport=polling" in r.url else None)
        page.goto(origin + "/")
        if origin == PORTAL:
            expect(page.locator(".amw-status.amw-online")).to_be_visible(timeout=TIMEOUT_MS)
            type_message(page, "hi, i forgot my password")
            wait_for_bot(page, "secure phone number")
            if transport == "websocket":
                assert sockets and not polls, (sockets, polls)
            else:
                assert polls and not sockets, (sockets, polls)
        else:
            expect(page.locator(".amw-status.amw-offline")).to_be_visible(timeout=TIMEOUT_MS)
            page.wait_for_timeout(3000)
            assert page.locator(".amw-status.amw-online").count() == 0
        context.close()
    # The Rasa server's own demo page is not in the list either.
    context = browser.new_context()
    page = context.new_page()
    page.goto(servers.rasa_url + PAGE)
    expect(page.locator(".amw-status.amw-offline")).to_be_visible(timeout=TIMEOUT_MS)
    context.close()
