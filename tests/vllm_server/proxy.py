"""A real HTTP proxy on 127.0.0.1 that fails, delays or corrupts a share of requests.

It sits between the client and the vLLM server (plain HTTP/1.1 with keep-alive, one
request at a time per connection, as the OpenAI client sends them), and records
what it saw: requests, the request keys (``X-Intentmine-Key``), failures injected and
the peak number of requests in flight. Runs its own event loop in a thread.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading

import httpx


class FlakyProxy:
    def __init__(self, upstream: str, fail_share: float = 0.0, delay_share: float = 0.0, delay_s: float = 0.0,
                 status: tuple[int, ...] = (503, 429), corrupt: bool = False, close_after: int | None = None,
                 seed: int = 0):
        self.upstream = upstream.rstrip("/")
        self.fail_share, self.delay_share, self.delay_s = fail_share, delay_share, delay_s
        self.status, self.corrupt, self.close_after = status, corrupt, close_after
        self.rng = random.Random(seed)
        self.requests = self.failures = self.delays = self.in_flight = self.peak = 0
        self.keys: list[str] = []
        self.forwarded: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def __enter__(self) -> "FlakyProxy":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        """Close the listener, finish every connection handler, then the upstream client."""
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._http.aclose()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._http = httpx.AsyncClient(timeout=120)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                lower = {k.lower(): v for k, v in headers.items()}
                body = await reader.readexactly(int(lower.get("content-length", 0)))
                if not await self._answer(method, path, lower, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _answer(self, method, path, headers, body, writer) -> bool:
        self.requests += 1
        self.keys.append(headers.get("x-intentmine-key", ""))
        if self.close_after is not None and self.requests > self.close_after:
            return False  # the server "went away": close without answering
        roll = self.rng.random()
        if roll < self.fail_share:
            self.failures += 1
            code = self.rng.choice(self.status)
            _write(writer, code, json.dumps({"error": {"message": "injected", "code": code}}).encode())
            await writer.drain()
            return True
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if roll < self.fail_share + self.delay_share:
                self.delays += 1
                await asyncio.sleep(self.delay_s)
            reply = await self._http.request(method, self.upstream + path.removeprefix("/v1"), content=body,
                                             headers={"content-type": "application/json"})
        finally:
            self.in_flight -= 1
        self.forwarded.append(headers.get("x-intentmine-key", ""))
        content = reply.content
        if self.corrupt and reply.status_code == 200:
            data = reply.json()
            data["choices"][0]["message"]["content"] = "not json at all"
            content = json.dumps(data).encode()
        _write(writer, reply.status_code, content)
        await writer.drain()
        return True


def _write(writer: asyncio.StreamWriter, code: int, body: bytes) -> None:
    writer.write(f"HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
                 f"connection: keep-alive\r\n\r\n".encode() + body)
