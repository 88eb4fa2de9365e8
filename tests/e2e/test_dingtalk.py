"""End to end over the DingTalk channel: signed callbacks to the real Rasa server, replies to a fake sessionWebhook."""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from channels.dingtalk import compute_sign
from tests.e2e.servers import DINGTALK_SECRET, Servers, SharedServers, channels_config
from tests.e2e.test_slack import FakeSlackApi
from tests.fake_http import RecordingServer
from tickets.store import TicketStore

SECRET = DINGTALK_SECRET
REPLY_SECONDS = 60
TICKET_ID = re.compile(r"\bALM-\d{6}\b")
_ids = itertools.count(1)


class FakeWebhook:
    """A local sessionWebhook: records every JSON body POSTed to it, by path; answers errcode 0."""

    def __init__(self) -> None:
        self.server = RecordingServer(responder=lambda record: (200, {"errcode": 0, "errmsg": "ok"}))

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server.port}{path}?session=token"

    @staticmethod
    def _bodies(records: List[Dict[str, Any]], path: str) -> List[Dict[str, Any]]:
        return [record["json"] for record in records if record["path"] == path]

    def posted(self, path: str) -> List[Dict[str, Any]]:
        return self._bodies(self.server.snapshot(), path)

    def wait_for(self, path: str, count: int) -> List[Dict[str, Any]]:
        """The first `count` bodies posted to `path`, waiting until REPLY_SECONDS have passed."""
        records = self.server.wait_for(lambda records: len(self._bodies(records, path)) >= count, REPLY_SECONDS)
        if records is None:
            raise AssertionError(f"{len(self.posted(path))} of {count} replies posted to {path} after {REPLY_SECONDS}s")
        return self._bodies(records, path)

    def stop(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[FakeWebhook]:
    fake = FakeWebhook()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def dingtalk(shared_servers: SharedServers, fake_slack: FakeSlackApi) -> Servers:
    """The session's servers with every channel configured: DingTalk with SECRET, replies to
    sessionWebhooks on 127.0.0.1 over http (the fake webhook)."""
    return shared_servers.get(channels_config(fake_slack.url))


class Chat:
    """One DingTalk conversation of one user with the robot; its replies go to its own webhook path."""

    def __init__(self, servers: Servers, webhook: FakeWebhook, group: bool = False) -> None:
        n = next(_ids)
        self.servers, self.webhook, self.group = servers, webhook, group
        self.staff_id = f"staff-{n}-{uuid.uuid4().hex[:6]}"
        self.conversation_id = f"cid-{n}-{uuid.uuid4().hex[:6]}"
        self.path = f"/robot/sendBySession/{self.conversation_id}"
        self.replies = 0

    def body(self, text: str, msg_id: Optional[str] = None, webhook_url: Optional[str] = None) -> Dict[str, Any]:
        now = int(time.time() * 1000)
        return {
            "msgtype": "text",
            "text": {"content": f"  {text} "},
            "msgId": msg_id or f"msg{uuid.uuid4().hex}",
            "createAt": now,
            "conversationType": "2" if self.group else "1",
            "conversationId": self.conversation_id,
            "conversationTitle": "Mail help" if self.group else "",
            "senderId": f"$:LWCP_v1:${self.staff_id}",
            "senderStaffId": self.staff_id,
            "senderNick": "Test User",
            "senderCorpId": "ding-corp",
            "sessionWebhook": webhook_url or self.webhook.url(self.path),
            "sessionWebhookExpiredTime": now + 5_400_000,
            "isAdmin": False,
            "chatbotUserId": "$:LWCP_v1:$bot",
            "isInAtList": True,
            "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
            "robotCode": "dingbotcode",
        }

    def post(
        self, body: Dict[str, Any], secret: Optional[str] = SECRET, timestamp: Optional[int] = None
    ) -> requests.Response:
        return signed_post(self.servers, body, secret, timestamp)

    def say(self, text: str, msg_id: Optional[str] = None) -> Dict[str, Any]:
        """Send `text` signed; wait for the robot's reply on the fake webhook and return it."""
        answer = self.post(self.body(text, msg_id))
        assert answer.status_code == 200, answer.text
        self.replies += 1
        return self.webhook.wait_for(self.path, self.replies)[self.replies - 1]


def signed_post(
    servers: Servers, body: Any, secret: Optional[str] = SECRET, timestamp: Optional[int] = None
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
        headers.update(timestamp=stamp, sign=compute_sign(secret, stamp))
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(f"{servers.rasa_url}/webhooks/dingtalk/webhook", data=data, headers=headers, timeout=30)


def text_of(reply: Dict[str, Any]) -> str:
    assert reply["msgtype"] == "markdown", reply
    return reply["markdown"]["text"]


def choice_number(reply: Dict[str, Any], title: str) -> str:
    """The number shown before the choice `title` in the reply's markdown."""
    for number, shown in re.findall(r"^(\d+)\. (.+)$", text_of(reply), flags=re.M):
        if shown.strip() == title:
            return number
    raise AssertionError(f"no choice {title!r} in {text_of(reply)!r}")


def test_health_says_the_channel_is_configured(dingtalk):
    answer = requests.get(f"{dingtalk.rasa_url}/webhooks/dingtalk/", timeout=10)
    assert answer.json() == {"status": "ok", "configured": True}


def test_signed_message_is_acknowledged_and_answered_on_the_session_webhook(dingtalk, webhook):
    chat = Chat(dingtalk, webhook)
    answer = chat.post(chat.body("I forgot my password"))
    assert answer.status_code == 200 and answer.json() == {"msgtype": "empty"}
    reply = webhook.wait_for(chat.path, 1)[0]
    assert "Forgotten Password" in text_of(reply)
    assert reply["markdown"]["title"] == "Forgotten Password"
    assert choice_number(reply, "Yes, one of them") == "1"
    assert choice_number(reply, "No, neither") == "2"


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "stale timestamp", "future timestamp"])
def test_unsigned_wrongly_signed_or_stale_callbacks_are_refused(dingtalk, webhook, how):
    chat = Chat(dingtalk, webhook)
    body = chat.body("I forgot my password")
    now = int(time.time() * 1000)
    answer = {
        "unsigned": lambda: chat.post(body, secret=None),
        "wrong secret": lambda: chat.post(body, secret="not-the-secret"),
        "stale timestamp": lambda: chat.post(body, timestamp=now - 3601 * 1000),
        "future timestamp": lambda: chat.post(body, timestamp=now + 3601 * 1000),
    }[how]()
    assert answer.status_code == 401
    assert "error" in answer.json() and "Traceback" not in answer.text
    # the same message signed correctly is still new (it was not recorded as seen)
    assert chat.post(body).status_code == 200
    assert len(webhook.wait_for(chat.path, 1)) == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"msgtype": "text"}'])
def test_malformed_signed_bodies_are_refused_with_400(dingtalk, body):
    answer = signed_post(dingtalk, body)
    assert answer.status_code == 400
    assert "error" in answer.json() and "Traceback" not in answer.text
    assert dingtalk.alive()


def test_a_replayed_msg_id_gets_only_one_reply(dingtalk, webhook):
    chat = Chat(dingtalk, webhook)
    first = chat.body("help", msg_id=f"replay-{uuid.uuid4().hex}")
    assert chat.post(first).status_code == 200
    webhook.wait_for(chat.path, 1)
    replay = dict(first, createAt=first["createAt"] + 1000)
    assert chat.post(replay).status_code == 200
    assert chat.post(first).status_code == 200
    chat.replies = 1
    chat.say("thanks")  # handled after anything the replays could have started
    assert len(webhook.posted(chat.path)) == 2


def test_group_reply_mentions_the_sender(dingtalk, webhook):
    chat = Chat(dingtalk, webhook, group=True)
    reply = chat.say("I forgot my password")
    assert reply["at"]["atUserIds"] == [chat.staff_id]
    assert "Forgotten Password" in text_of(reply)


def test_one_to_one_reply_mentions_nobody_and_a_choice_can_be_typed_by_title(dingtalk, webhook):
    chat = Chat(dingtalk, webhook)
    reply = chat.say("I forgot my password")
    assert "at" not in reply
    reply = chat.say("yes, one of them")  # the choice's title, in another case
    assert "Step 1 of 6" in text_of(reply)
    assert "at" not in reply


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2"])
def test_a_session_webhook_on_another_host_gets_nothing(dingtalk, webhook, host):
    chat = Chat(dingtalk, webhook)
    bad_path = f"/evil/{uuid.uuid4().hex}"
    answer = chat.post(chat.body("I forgot my password", webhook_url=webhook.url(bad_path, host=host)))
    assert answer.status_code == 200
    chat.say("help")  # the same conversation goes on normally, in order
    assert webhook.posted(bad_path) == []
    assert len(webhook.posted(chat.path)) == 1


def test_forgotten_password_without_recovery_to_a_ticket_by_numbers(dingtalk, webhook):
    chat = Chat(dingtalk, webhook)
    reply = chat.say("I forgot my password")
    assert choice_number(reply, "No, neither") == "2"
    reply = chat.say("2")
    assert "you can't reset the password yourself" in text_of(reply)
    reply = chat.say(choice_number(reply, "Open a ticket"))
    assert "Which email address" in text_of(reply)
    reply = chat.say("ann.lee@corp.example")
    assert "Here's the ticket I'll open" in text_of(reply)
    assert "Contact: ann.lee@corp.example" in text_of(reply)
    reply = chat.say(choice_number(reply, "Yes, open it"))
    ticket_id = TICKET_ID.search(text_of(reply))
    assert ticket_id, text_of(reply)
    assert "**" + ticket_id.group(0) + "**" in text_of(reply)  # the bot's bold is passed through

    ticket = TicketStore(dingtalk.tickets_db_url).get(ticket_id.group(0))
    assert (ticket.channel, ticket.sender_id, ticket.problem) == ("dingtalk", chat.staff_id, "forgot_password")
    assert ticket.contact_email == "ann.lee@corp.example"
    assert dingtalk.alive()


def test_a_whole_guide_and_a_ticket_in_chinese(dingtalk, webhook):
    """A pasted bounce in Chinese: the guide, a failed step, the ticket — all in Chinese, by numbers and words."""
    chat = Chat(dingtalk, webhook)
    reply = chat.say("收到ESO_LOCAL_SPAM退信了，发不出去")
    assert "邮件因 ESO_LOCAL_SPAM 被退信" in text_of(reply) and "第 1 步（共 4 步）" in text_of(reply)
    reply = chat.say(choice_number(reply, "完成，下一步"))
    assert "第 2 步（共 4 步）" in text_of(reply)
    reply = chat.say("下一步")
    assert "第 3 步（共 4 步）" in text_of(reply)
    reply = chat.say("没用")
    assert "很抱歉，第 3 步没能解决您的问题" in text_of(reply)
    reply = chat.say(choice_number(reply, "提交工单"))
    assert "技术支持可以通过哪个邮箱地址联系您" in text_of(reply)
    reply = chat.say("li.lei@corp.example")
    assert ".eml 文件" in text_of(reply) and text_of(reply).endswith("_回复数字即可选择。_")
    reply = chat.say(choice_number(reply, "技术支持回复时我会附上"))
    assert "我将提交以下工单" in text_of(reply) and "联系方式：li.lei@corp.example" in text_of(reply)
    assert "错误代码：ESO_LOCAL_SPAM" in text_of(reply)
    reply = chat.say(choice_number(reply, "是的，提交"))
    ticket_id = TICKET_ID.search(text_of(reply))
    assert ticket_id and "已在 技术支持 队列中创建" in text_of(reply), text_of(reply)
    ticket = TicketStore(dingtalk.tickets_db_url).get(ticket_id.group(0))
    assert (ticket.language, ticket.problem, ticket.error_code) == ("zh", "eso_local_spam", "ESO_LOCAL_SPAM")
    assert ticket.steps_tried and ticket.eml_delivery == "技术支持回复时我会附上"
    assert dingtalk.alive()
