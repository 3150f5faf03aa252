"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1 between a real client and a real hub.

It runs an asyncio loop in a background thread. Each client connection gets its own upstream
connection; requests are framed (headers + Content-Length or chunked body) so a fault hits one
request, chosen by ``plan`` (a list popped per request: a fault name or None) or by
``chooser(method, path) -> fault | None``. Faults (each bounded in time):

- ``drop_before``     read the request, close without forwarding (the hub never saw it)
- ``drop_after``      forward, read the hub's whole answer, close without sending it (answer lost)
- ``reset_request``   forward part of the request body to the hub, then reset both sides
- ``reset_response``  forward the request, send part of the answer, then reset
- ``trickle``         forward both ways in small pieces with delays (slow but whole)
- ``stall``           forward, then hold the answer past the client's read timeout, then close
- ``5xx``             answer 502/503/500 from the hub's side (protocol header set), do not forward
- ``429``             answer 429 with ``Retry-After`` (protocol header set), do not forward
- ``truncated``       forward, send the answer's headers and only part of its body, then close
- ``captive``         answer 200 with an HTML login page, do not forward

``stats`` counts requests, faults applied and bytes each way (what reached the hub).
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
import time
from collections import Counter

FAULTS = ("drop_before", "drop_after", "reset_request", "reset_response", "trickle", "stall", "5xx", "429",
          "truncated", "captive")

CAPTIVE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 87\r\nConnection: close\r\n\r\n"
           b"<html><body><h1>Welcome to Village WiFi</h1><form>Log in to continue</form></body></html>")


class _Reset(Exception):
    pass


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0) rather than a FIN."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def _read_message(reader: asyncio.StreamReader, *, is_response: bool, method: str = "GET") -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    body = b""
    status = int(lines[0].split()[1]) if is_response else 0
    no_body = is_response and (method == "HEAD" or status in (204, 304) or 100 <= status < 200)
    if no_body:
        return head, body
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        body = await reader.readexactly(n) if n else b""
    elif hdrs.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            parts.append(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            data = await reader.readexactly(size + 2)
            parts.append(data)
            if size == 0:
                break
        body = b"".join(parts)
    elif is_response:
        body = await reader.read()
    return head, body


class FaultProxy:
    def __init__(self, upstream_port: int, *, seed: int | None = None, stall_s: float = 1.0,
                 trickle_chunk: int = 512, trickle_delay: float = 0.002, retry_after: str = "0"):
        self.upstream_port = upstream_port
        self.rng = random.Random(seed)
        self.stall_s = stall_s
        self.trickle_chunk = trickle_chunk
        self.trickle_delay = trickle_delay
        self.retry_after = retry_after
        self.plan: list[str | None] = []
        self.chooser = None
        self.stats: Counter = Counter()
        self.log: list[tuple[str, str, str | None]] = []
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self._started.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    # -- control
    def set_plan(self, plan: list[str | None]) -> None:
        self.plan = list(plan)

    def _choose(self, method: str, path: str) -> str | None:
        if self.plan:
            return self.plan.pop(0)
        if self.chooser:
            return self.chooser(method, path)
        return None

    # -- loop
    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self._started.set()
        self.loop.run_forever()

    def close(self) -> None:
        async def stop():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks(self.loop) if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    async def _client(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur = uw = None
        try:
            while True:
                try:
                    head, body = await _read_message(cr, is_response=False)
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                    return
                first = head.split(b"\r\n", 1)[0].decode("latin-1").split()
                method, path = first[0], first[1]
                fault = self._choose(method, path)
                self.stats["requests"] += 1
                if method == "PATCH":
                    self.stats["patch_body_bytes"] += len(body)
                self.log.append((method, path, fault))
                if fault:
                    self.stats[fault] += 1
                if fault == "drop_before":
                    cw.close()
                    return
                if fault == "captive":
                    cw.write(CAPTIVE)
                    await cw.drain()
                    cw.close()
                    return
                if fault in ("5xx", "429"):
                    code = self.rng.choice((500, 502, 503)) if fault == "5xx" else 429
                    msg = b'{"error":"busy","detail":"try later","field":null}'
                    extra = f"Retry-After: {self.retry_after}\r\n" if fault == "429" or code == 503 else ""
                    cw.write((f"HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nX-Fieldreport-Protocol: 1\r\n"
                              f"{extra}Content-Length: {len(msg)}\r\n\r\n").encode() + msg)
                    await cw.drain()
                    continue
                if uw is None:
                    ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                if fault == "reset_request" and body:
                    cut = self.rng.randint(0, max(0, len(body) - 1))
                    uw.write(head + body[:cut])
                    await uw.drain()
                    await asyncio.sleep(0.01)
                    _abort(uw)
                    _abort(cw)
                    return
                if fault == "trickle":
                    data = head + body
                    for i in range(0, len(data), self.trickle_chunk):
                        uw.write(data[i:i + self.trickle_chunk])
                        await uw.drain()
                        await asyncio.sleep(self.trickle_delay)
                else:
                    uw.write(head + body)
                    await uw.drain()
                self.stats["bytes_to_hub"] += len(head) + len(body)
                rhead, rbody = await _read_message(ur, is_response=True, method=method)
                self.stats["bytes_from_hub"] += len(rhead) + len(rbody)
                if fault == "drop_after":
                    cw.close()
                    uw.close()
                    return
                if fault == "stall":
                    await asyncio.sleep(self.stall_s)
                    _abort(cw)
                    uw.close()
                    return
                if fault == "reset_response":
                    whole = rhead + rbody
                    cut = self.rng.randint(0, max(0, len(whole) - 1))
                    cw.write(whole[:cut])
                    await cw.drain()
                    await asyncio.sleep(0.005)
                    _abort(cw)
                    uw.close()
                    return
                if fault == "truncated":
                    cut = self.rng.randint(0, max(0, len(rbody) - 1)) if rbody else 0
                    cw.write(rhead + rbody[:cut])
                    await cw.drain()
                    cw.close()
                    uw.close()
                    return
                if fault == "trickle":
                    data = rhead + rbody
                    for i in range(0, len(data), self.trickle_chunk):
                        cw.write(data[i:i + self.trickle_chunk])
                        await cw.drain()
                        await asyncio.sleep(self.trickle_delay)
                else:
                    cw.write(rhead + rbody)
                    await cw.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            for w in (cw, uw):
                if w is not None:
                    try:
                        w.close()
                    except Exception:  # noqa: BLE001
                        pass


def wait_port(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")
