"""The DingTalk channel's pure parts: signature and timestamp, body parsing, allowlist, choices, markdown;
and `accept` on stub requests: every malformed header or body is a 4xx."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json

import pytest

from channels.dingtalk import (
    MAX_TEXT_CHARS,
    DingTalkInput,
    check_signature,
    compute_sign,
    parse_callback,
    parse_hosts,
    plain_title,
    render_turn,
    reply_payload,
    to_markdown,
    translate_choice,
    webhook_allowed,
)
from channels.memory import MemoryStore, RedisStore, StateUnavailable, TTLCache
from core.phrases import say
from core.settings import Settings, get_settings

SECRET = "test-app-secret"
NOW = 1_700_000_000_000


def test_sign_is_base64_hmac_sha256_of_timestamp_newline_secret():
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{NOW}\n{SECRET}".encode(), hashlib.sha256).digest())
    assert compute_sign(SECRET, str(NOW)) == expected.decode()


def test_a_correct_signature_within_the_hour_is_accepted():
    assert check_signature(SECRET, str(NOW), compute_sign(SECRET, str(NOW)), now_ms=NOW) is None
    late = NOW + 3600 * 1000
    assert check_signature(SECRET, str(NOW), compute_sign(SECRET, str(NOW)), now_ms=late) is None


@pytest.mark.parametrize(
    "timestamp, sign",
    [
        (None, None),
        (str(NOW), None),
        (None, "abc"),
        ("", ""),
        (str(NOW), ""),
        (str(NOW), "bm90IHRoZSBzaWdu"),
        (str(NOW), compute_sign("another-secret", str(NOW))),
        (str(NOW + 1), compute_sign(SECRET, str(NOW))),
        ("soon", compute_sign(SECRET, "soon")),
        (str(NOW), "ünïcode"),
        ("²", compute_sign(SECRET, "²")),  # str.isdigit() is True, int() refuses it
        ("١٧٠٠٠٠٠٠٠٠٠٠٠", "x"),  # Arabic-Indic digits
        (str(NOW), compute_sign(SECRET, str(NOW)) + "\udcff"),  # a non-UTF-8 header byte, as Sanic decodes it
        (str(NOW), "%ff%fe"),  # URL-encoded non-ASCII
        (str(NOW), "A" * 5000),
        ("9" * 16, "x"),
        (str(NOW), " "),
    ],
)
def test_missing_or_wrong_signatures_are_refused(timestamp, sign):
    assert check_signature(SECRET, timestamp, sign, now_ms=NOW)


@pytest.mark.parametrize("offset_ms", [3600 * 1000 + 1, -(3600 * 1000 + 1), 86400 * 1000])
def test_a_timestamp_more_than_an_hour_off_is_refused_even_when_signed(offset_ms):
    timestamp = str(NOW + offset_ms)
    assert "1 hour" in check_signature(SECRET, timestamp, compute_sign(SECRET, timestamp), now_ms=NOW)


def callback(**changes):
    body = {
        "msgtype": "text",
        "text": {"content": "  I forgot my password "},
        "msgId": "m1",
        "createAt": NOW,
        "conversationType": "1",
        "conversationId": "cid1",
        "senderId": "$:LWCP:abc",
        "senderStaffId": "staff42",
        "senderNick": "Ann",
        "senderCorpId": "corp",
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=x",
        "sessionWebhookExpiredTime": NOW + 60_000,
        "isAdmin": False,
        "chatbotUserId": "bot",
        "isInAtList": True,
        "robotCode": "ding123",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_the_callback_body_gives_trimmed_text_staff_id_and_conversation_info():
    message = parse_callback(json.dumps(callback()).encode())
    assert message.text == "I forgot my password"
    assert (message.sender_id, message.staff_id, message.msg_id) == ("staff42", "staff42", "m1")
    assert not message.is_group
    assert message.metadata["dingtalk"]["conversationId"] == "cid1"
    assert message.metadata["dingtalk"]["senderNick"] == "Ann"
    assert "sessionWebhook" not in json.dumps(message.metadata)  # the webhook carries a session token


def test_without_a_staff_id_the_sender_id_is_used():
    message = parse_callback(json.dumps(callback(senderStaffId=None, conversationType="2")).encode())
    assert (message.sender_id, message.staff_id, message.is_group) == ("$:LWCP:abc", None, True)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"\xff\xfe",
        b"",
        json.dumps(callback(msgId=None)).encode(),
        json.dumps(callback(conversationId="")).encode(),
        json.dumps(callback(sessionWebhook=None)).encode(),
        json.dumps(callback(senderStaffId=None, senderId=None)).encode(),
        json.dumps(callback(text=None)).encode(),
        json.dumps(callback(text={"content": 5})).encode(),
        json.dumps(callback(conversationType="3")).encode(),
        json.dumps(callback(msgtype=None)).encode(),
        b"[" * 100_000 + b"]" * 100_000,  # nested too deep for the JSON parser
        b'{"msgId": 1' + b"0" * 5000 + b"}",  # an integer too long to read
        json.dumps(callback(msgId="m" * 513)).encode(),
        json.dumps(callback(conversationId={"a": 1})).encode(),
        json.dumps(callback(senderStaffId=["s"], senderId=None)).encode(),
        json.dumps(callback(sessionWebhook="https://oapi.dingtalk.com/" + "x" * 5000)).encode(),
        json.dumps(callback(text={"content": "\ud800 lone surrogate"})).encode(),
        json.dumps(callback(msgId="\udfff")).encode(),
        json.dumps(callback(msgtype=["text"])).encode(),
        json.dumps(callback(conversationType=True)).encode(),
        json.dumps(callback(conversationType=None)).encode(),
        '{"msgtype": "text", "msgId": "é"}'.encode("latin-1"),
    ],
)
def test_malformed_bodies_raise_value_error(body):
    with pytest.raises(ValueError):
        parse_callback(body)


def test_long_texts_are_cut_and_odd_metadata_is_left_out():
    body = callback(text={"content": "word " * 5000}, senderNick="\ud800", conversationTitle={"x": [1]}, isAdmin=True)
    message = parse_callback(json.dumps(body).encode())
    assert len(message.text) <= MAX_TEXT_CHARS and message.text.startswith("word word")
    assert "senderNick" not in message.metadata["dingtalk"] and "conversationTitle" not in message.metadata["dingtalk"]
    assert message.metadata["dingtalk"]["isAdmin"] is True
    rich = callback(msgtype="richText", text=None, content={"richText": [{"text": 5}, {"text": "help"}, "x"]})
    assert parse_callback(json.dumps(rich).encode()).text == "help"


def test_the_chat_type_comes_from_the_conversation_type_and_a_group_can_not_be_left():
    direct = parse_callback(json.dumps(callback()).encode()).metadata
    group = parse_callback(json.dumps(callback(conversationType="2")).encode()).metadata
    assert (direct["chat_type"], direct["dm_available"]) == ("direct", False)
    assert (group["chat_type"], group["dm_available"]) == ("group", False)
    # what the body says about itself beyond the known fields is not passed on
    forged = parse_callback(json.dumps(callback(chat_type="direct", verified_identity={"email": "x@y.z"})).encode())
    assert "verified_identity" not in json.dumps(forged.metadata)
    assert forged.metadata["chat_type"] == "direct" and set(forged.metadata) == {
        "dingtalk",
        "chat_type",
        "dm_available",
    }


def test_a_direct_message_for_the_sender_alone_is_never_rendered():
    markdown, choices = render_turn(
        [
            {"text": "Tickets hold personal details."},
            {"custom": {"direct_message": {"text": "Contact: ann@corp.example", "buttons": [{"title": "Yes"}]}}},
        ]
    )
    assert markdown == "Tickets hold personal details." and choices == []


def test_other_message_types_give_their_words_or_nothing():
    rich = callback(
        msgtype="richText",
        text=None,
        content={"richText": [{"text": "forgot "}, {"pictureDownloadCode": "x"}, {"text": "password"}]},
    )
    assert parse_callback(json.dumps(rich).encode()).text == "forgot password"
    audio = callback(msgtype="audio", text=None, content={"recognition": "i forgot my password"})
    assert parse_callback(json.dumps(audio).encode()).text == "i forgot my password"
    picture = callback(msgtype="picture", text=None, content={"downloadCode": "x"})
    assert parse_callback(json.dumps(picture).encode()).text == ""


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://oapi.dingtalk.com/robot/sendBySession?session=x", True),
        ("https://OAPI.dingtalk.com./robot/sendBySession", True),
        ("https://api.dingtalk.com/v1.0/robot", True),
        ("http://oapi.dingtalk.com/robot/sendBySession", False),
        ("https://oapi.dingtalk.com.evil.example/robot", False),
        ("https://oapi.dingtalk.com@evil.example/robot", False),
        ("https://user@oapi.dingtalk.com/robot", False),
        ("https://evil.example/?oapi.dingtalk.com", False),
        ("https://127.0.0.1/robot", False),
        ("file:///etc/passwd", False),
        ("https://oapi.dingtalk.com:99999/", False),
        ("not a url", False),
    ],
)
def test_only_dingtalk_hosts_over_https_are_allowed_by_default(url, allowed):
    assert webhook_allowed(url, parse_hosts(None)) is allowed


def test_http_and_other_hosts_only_when_configured():
    hosts = parse_hosts(" 127.0.0.1 , ")
    assert hosts == ("127.0.0.1",)
    assert not webhook_allowed("http://127.0.0.1:8080/x", hosts)
    assert webhook_allowed("http://127.0.0.1:8080/x", hosts, allow_http=True)
    assert not webhook_allowed("http://localhost:8080/x", hosts, allow_http=True)
    assert not webhook_allowed("http://127.0.0.2:8080/x", hosts, allow_http=True)


CHOICES = [("Yes, one of them", "/affirm"), ("No, neither", "/deny"), ("I'll attach it when support replies", "/x")]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1", "/affirm"),
        ("2", "/deny"),
        (" 3 ", "/x"),
        ("2.", "/deny"),
        ("(1)", "/affirm"),
        ("２", "/deny"),
        ("no, neither", "/deny"),
        ("  No,   Neither. ", "/deny"),
        ("I’ll attach it when support replies", "/x"),
        ("4", "4"),
        ("0", "0"),
        ("12 steps", "12 steps"),
        ("no", "no"),
        ("I forgot my password", "I forgot my password"),
    ],
)
def test_a_number_or_a_title_becomes_the_buttons_payload(text, expected):
    assert translate_choice(text, CHOICES) == expected


def test_without_offered_choices_numbers_are_passed_on():
    assert translate_choice("1", []) == "1"


def test_a_turn_becomes_one_markdown_message_with_numbered_choices_across_messages():
    messages = [
        {"text": "**Forgotten Password**\nLikely cause: something"},
        {
            "text": "Is a phone set up?",
            "buttons": [
                {"title": "Yes, one of them", "payload": "/affirm"},
                {"title": "No, neither", "payload": "/deny"},
            ],
        },
        {"text": "Or:", "buttons": [{"title": "Stop", "payload": "/stop"}]},
    ]
    markdown, choices = render_turn(messages)
    assert markdown == (
        "**Forgotten Password**  \nLikely cause: something\n\n"
        "Is a phone set up?\n\n1. Yes, one of them\n2. No, neither\n\n"
        "Or:\n\n3. Stop\n\n_Reply with a number to choose._"
    )
    assert choices == [("Yes, one of them", "/affirm"), ("No, neither", "/deny"), ("Stop", "/stop")]
    assert render_turn([{"text": "Just text"}]) == ("Just text", [])
    chinese, _ = render_turn([{"text": "成功了吗？", "buttons": [{"title": "是的，成功了", "payload": "/affirm"}]}])
    assert chinese == "成功了吗？\n\n1. 是的，成功了\n\n_回复数字即可选择。_"
    assert render_turn([]) == ("", [])


def test_markdown_keeps_bold_links_and_lists_and_drops_code_backticks():
    assert (
        to_markdown("Send the `.eml` file\n\n- **a**\n- [b](https://x.example)")
        == "Send the .eml file\n\n- **a**  \n- [b](https://x.example)"
    )
    assert plain_title("**Forgotten Password**  \nLikely") == "Forgotten Password"
    assert plain_title("[Console](https://x) step") == "Console step"
    assert len(plain_title("word " * 40)) <= 40


def test_group_replies_mention_the_sender_one_to_one_replies_do_not():
    group = parse_callback(json.dumps(callback(conversationType="2")).encode())
    assert reply_payload("hi", group)["at"] == {"atUserIds": ["staff42"], "isAtAll": False}
    single = parse_callback(json.dumps(callback()).encode())
    payload = reply_payload("hi", single)
    assert "at" not in payload
    assert payload["msgtype"] == "markdown" and payload["markdown"] == {"title": "hi", "text": "hi"}


def test_seen_message_ids_are_bounded_and_expire():
    now = [0.0]
    cache = TTLCache(max_items=3, ttl=7200, clock=lambda: now[0])
    assert cache.add_if_new("a") and not cache.add_if_new("a")
    for key in "bcd":
        assert cache.add_if_new(key)
    assert len(cache) == 3 and cache.add_if_new("a")  # the oldest was evicted
    now[0] = 7199.0
    assert not cache.add_if_new("d")
    now[0] = 7201.0
    assert cache.add_if_new("d")


def test_credentials_read_the_secret_and_hosts_from_the_environment(monkeypatch):
    monkeypatch.delenv("DINGTALK_APP_SECRET", raising=False)
    monkeypatch.delenv("DINGTALK_WEBHOOK_HOSTS", raising=False)
    monkeypatch.delenv("DINGTALK_ALLOW_HTTP", raising=False)
    channel = DingTalkInput.from_credentials({})
    assert channel.app_secret is None and channel.webhook_hosts == ("oapi.dingtalk.com", "api.dingtalk.com")
    assert not channel.allow_http and DingTalkInput.name() == "dingtalk"
    monkeypatch.setenv("DINGTALK_APP_SECRET", " s3 ")
    monkeypatch.setenv("DINGTALK_WEBHOOK_HOSTS", "a.example,B.example.")
    monkeypatch.setenv("DINGTALK_ALLOW_HTTP", "true")
    get_settings.cache_clear()
    channel = DingTalkInput.from_credentials({})
    assert (channel.app_secret, channel.webhook_hosts, channel.allow_http) == ("s3", ("a.example", "b.example"), True)


def test_credentials_take_the_settings_given(caplog):
    settings = Settings(dingtalk_app_secret="s4", dingtalk_allow_http=False)
    channel = DingTalkInput.from_credentials({"app_secret_env": "OTHER_SECRET"}, settings)
    assert (channel.app_secret, channel.allow_http) == ("s4", False)
    assert "'app_secret_env' in credentials.yml is ignored; set DINGTALK_APP_SECRET" in caplog.text


class StubRequest:
    def __init__(self, body: bytes, headers: dict) -> None:
        self.body, self.headers = body, headers


def signed_headers(secret: str = SECRET) -> dict:
    import time

    stamp = str(int(time.time() * 1000))
    return {"timestamp": stamp, "sign": compute_sign(secret, stamp)}


async def never_called(message):  # pragma: no cover - the refused requests must not reach Rasa
    raise AssertionError("reached Rasa")


def status_and_body(channel: DingTalkInput, body: bytes, headers: dict):
    answer = asyncio.run(channel.accept(StubRequest(body, headers), never_called))
    return answer.status, json.loads(answer.body)


def test_without_a_secret_every_callback_is_refused_with_503():
    status, body = status_and_body(DingTalkInput(None), json.dumps(callback()).encode(), signed_headers())
    assert status == 503 and "error" in body


def test_refusals_401_for_the_signature_400_for_the_body():
    channel = DingTalkInput(SECRET)
    assert status_and_body(channel, json.dumps(callback()).encode(), {})[0] == 401
    assert status_and_body(channel, json.dumps(callback()).encode(), signed_headers("wrong"))[0] == 401
    assert status_and_body(channel, b"{oops", signed_headers())[0] == 400
    assert status_and_body(channel, json.dumps(callback(msgId=None)).encode(), signed_headers())[0] == 400
    assert isinstance(channel.seen, MemoryStore) and len(channel.seen) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"timestamp": "²", "sign": "x"},
        {"timestamp": "\udcb2", "sign": "x"},
        {"sign": "\udcff\udcfe", "timestamp": "1700000000000"},
        {"timestamp": "1" * 40, "sign": "x"},
        {"timestamp": "-1", "sign": "x"},
    ],
)
def test_malformed_headers_are_401_not_500(headers):
    channel = DingTalkInput(SECRET)
    assert status_and_body(channel, json.dumps(callback()).encode(), headers)[0] == 401


def test_a_body_over_a_megabyte_is_413():
    body = json.dumps(callback(text={"content": "x" * (1024 * 1024)})).encode()
    assert status_and_body(DingTalkInput(SECRET), body, signed_headers())[0] == 413


class DownStore(MemoryStore):
    """A store whose Redis is gone."""

    def __init__(self) -> None:
        super().__init__(10, 60)

    async def add_if_new(self, key: str) -> bool:
        raise StateUnavailable("Redis did not answer SET NX within 2s")


@pytest.mark.parametrize(
    "text, language", [("I forgot my password", "en"), ("我忘记密码了", "zh"), ("ESO_LOCAL_SPAM", None)]
)
def test_without_the_shared_store_a_message_is_not_answered_unchecked_and_the_user_is_asked_to_resend(text, language):
    """Redis down: acknowledged (no redelivery to answer twice), not passed to Rasa, and the user gets the
    phrase `part_unavailable` on the sessionWebhook in the message's language (issue 17). Before: 503, and
    silence unless DingTalk redelivered once Redis was back."""
    from core.phrases import say_in_language_or_all
    from tests.fake_http import RecordingServer

    webhook = RecordingServer(lambda record: (200, {"errcode": 0, "errmsg": "ok"}))
    channel = DingTalkInput(SECRET, webhook_hosts=("127.0.0.1",), allow_http=True)
    channel.seen = DownStore()
    body = json.dumps(callback(text={"content": text}, sessionWebhook=f"{webhook.url}/robot/sendBySession")).encode()

    async def scenario():
        answer = await channel.accept(StubRequest(body, signed_headers()), never_called)
        await asyncio.gather(*channel._tasks)  # the reply, after the acknowledgement
        return answer

    try:
        answer = asyncio.run(scenario())
        posted = [record["json"] for record in webhook.snapshot()]
    finally:
        webhook.close()
    assert (answer.status, json.loads(answer.body)) == (200, {"msgtype": "empty"})  # the acknowledgement
    (reply,) = posted
    assert reply["markdown"]["text"] == say_in_language_or_all("part_unavailable", language)


def test_the_production_profile_keeps_seen_ids_and_choices_in_redis_the_embedded_one_in_memory():
    production = Settings(alimail_profile="production", redis_key_prefix="pfx", dingtalk_app_secret="s")
    channel = DingTalkInput.from_credentials({}, production)
    assert isinstance(channel.seen, RedisStore) and isinstance(channel.choices, RedisStore)
    assert (channel.seen.namespace, channel.choices.namespace) == ("pfx:dingtalk:seen:", "pfx:dingtalk:choices:")
    assert channel.seen.client is channel.choices.client
    embedded = DingTalkInput.from_credentials({}, Settings(dingtalk_app_secret="s"))
    assert isinstance(embedded.seen, MemoryStore) and isinstance(embedded.choices, MemoryStore)


def test_a_webhook_on_another_host_is_dropped_before_rasa():
    channel = DingTalkInput(SECRET)
    body = json.dumps(callback(sessionWebhook="https://evil.example/x")).encode()
    assert status_and_body(channel, body, signed_headers()) == (200, {"msgtype": "empty"})


def test_a_turn_shows_each_privacy_notice_once() -> None:
    """A personal reply and the form question after it each carry the notice: the group reads it once."""
    notice = say("private_write_directly", "en")
    markdown, _ = render_turn([{"text": notice}, {"text": "Noted."}, {"text": notice}, {"text": "Noted."}])
    assert markdown.count(notice) == 1 and markdown.count("Noted.") == 2
