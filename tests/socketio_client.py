"""A socket.io 5 client (Engine.IO 4) of the web chat (channels/webchat.py) for tests against the real
Rasa server: tests/security/test_webchat.py and tests/e2e/test_secrets_at_rest.py speak through it.

python-socketio's own client needs a newer aiohttp than Rasa's for WebSocket, hence this small one.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import aiohttp
import websockets.client
import websockets.exceptions

if TYPE_CHECKING:
    from tests.e2e.servers import Servers

REPLY_TIMEOUT = 60  # seconds to wait for the server's answer (a reply can wait for the model)


class Refused(Exception):
    """The server refused the connection (HTTP status before the upgrade, or socket.io connect_error)."""


class Client:
    """A socket.io 5 client (Engine.IO 4) of the web chat, over WebSocket (``websockets``) or long-polling
    (aiohttp), that records every event it receives. (python-socketio's own client needs a newer aiohttp
    than Rasa's for WebSocket.)"""

    def __init__(self, url: str, origin: Optional[str], transport: str, auth: Optional[Dict[str, Any]] = None):
        self.url, self.origin, self.transport, self.auth = url, origin, transport, auth
        self.servers: Optional[Servers] = None
        self.events: "asyncio.Queue[Tuple[str, Any]]" = asyncio.Queue()
        self._connected: "asyncio.Queue[Tuple[str, Any]]" = asyncio.Queue()
        self._ws: Any = None
        self._http: Optional[aiohttp.ClientSession] = None
        self._polling_url = ""
        self._reader: "Optional[asyncio.Task[None]]" = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Connects and joins the namespace, or raises Refused."""
        headers = {"Origin": self.origin} if self.origin else {}
        path = f"{self.url}/socket.io/?EIO=4&transport="
        if self.transport == "websocket":
            try:
                self._ws = await websockets.client.connect(
                    path.replace("http", "ws", 1) + "websocket", extra_headers=headers, open_timeout=REPLY_TIMEOUT
                )
            except websockets.exceptions.InvalidHandshake as error:
                raise Refused(str(error)) from None
            await self._ws.recv()  # the Engine.IO open packet
            self._reader = asyncio.create_task(self._read_websocket())
        else:
            self._http = aiohttp.ClientSession(headers=headers)
            async with self._http.get(path + "polling") as reply:
                body = await reply.text()
                if reply.status != 200:
                    await self._http.close()
                    raise Refused(f"{reply.status} {body}")
            self._polling_url = f"{path}polling&sid={json.loads(body[1:])['sid']}"
            self._reader = asyncio.create_task(self._read_polling())
        await self._send("40" + (json.dumps(self.auth) if self.auth is not None else ""))
        kind, data = await asyncio.wait_for(self._connected.get(), REPLY_TIMEOUT)
        if kind != "connect":
            await self.close()
            raise Refused(str(data))

    async def _send(self, packet: str) -> None:
        if self._ws is not None:
            await self._ws.send(packet)
            return
        assert self._http is not None
        async with self._lock, self._http.post(self._polling_url, data=packet.encode()) as reply:
            assert reply.status == 200, await reply.text()

    def _handle(self, packet: str) -> Optional[str]:
        """Records a packet; the answer to send, if any (a pong)."""
        if packet == "2":
            return "3"
        if packet.startswith("40"):
            self._connected.put_nowait(("connect", packet[2:]))
        elif packet.startswith("44"):
            self._connected.put_nowait(("connect_error", packet[2:]))
        elif packet.startswith("42"):
            name, *args = json.loads(packet[2:])
            self.events.put_nowait((name, args[0] if args else None))
        return None

    async def _read_websocket(self) -> None:
        try:
            async for message in self._ws:
                answer = self._handle(message)
                if answer:
                    await self._ws.send(answer)
        except websockets.exceptions.ConnectionClosed:
            pass

    async def _read_polling(self) -> None:
        assert self._http is not None
        while True:
            async with self._http.get(self._polling_url) as reply:
                if reply.status != 200:
                    return
                body = await reply.text()
            for packet in body.split("\x1e"):
                answer = self._handle(packet)
                if answer:
                    await self._send(answer)

    async def next(self, name: str, timeout: float = REPLY_TIMEOUT) -> Any:
        while True:
            event, data = await asyncio.wait_for(self.events.get(), timeout)
            if event == name:
                return data

    async def reply_with(self, piece: str) -> str:
        """The text of the first bot message (from now on) that contains `piece`."""
        while True:
            text = (await self.next("bot_uttered")).get("text") or ""
            if piece in text:
                return text

    async def session(self, session_id: Any) -> str:
        await self._send("42" + json.dumps(["session_request", {"session_id": session_id}]))
        return await self.next("session_confirm")

    async def say(self, text: str, session_id: Any) -> None:
        await self._send("42" + json.dumps(["user_uttered", {"message": text, "session_id": session_id}]))

    def received(self) -> List[Tuple[str, Any]]:
        """What arrived and was not read yet."""
        items = []
        while not self.events.empty():
            items.append(self.events.get_nowait())
        return items

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            try:
                await self._send("1")  # Engine.IO close
            except (AssertionError, aiohttp.ClientError):
                pass
            await self._http.close()
