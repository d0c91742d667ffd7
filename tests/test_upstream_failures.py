"""Why an upstream central system cannot be reached, as the options flow's test and the repair issue say it.

`probe_upstream` opens (and closes) a connection as a charger would; each way of failing is
played by a small server on 127.0.0.1 that answers just so.
"""

from __future__ import annotations

from asyncio import StreamReader, StreamWriter, start_server
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
import errno
import socket
import ssl

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close

from custom_components.ocpp_cs.engine.relay import UpstreamFailure, describe_failure, probe_upstream

from .conftest import free_port

type Handler = Callable[[StreamReader, StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[str]:
    """Serve `handler` on 127.0.0.1; yield the host:port to dial."""
    port = free_port()
    server = await start_server(handler, "127.0.0.1", port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def answering(response: bytes) -> Handler:
    """A server that reads the request and answers with fixed bytes, then hangs up."""

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response)
        await writer.drain()
        writer.close()

    return handler


async def speak_plain_http(_reader: StreamReader, writer: StreamWriter) -> None:
    writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")  # before the client's TLS hello is read
    await writer.drain()
    writer.close()


async def hang_up(_reader: StreamReader, writer: StreamWriter) -> None:
    writer.close()


async def say_nothing(reader: StreamReader, _writer: StreamWriter) -> None:
    await reader.read()  # until the client gives up


async def probe(url: str, *, ssl_context: ssl.SSLContext | None = None) -> UpstreamFailure | None:
    return await probe_upstream(url, "CP-1", "secret", ssl_context, open_timeout=0.5)


@pytest.mark.usefixtures("socket_enabled")
async def test_each_way_an_upstream_fails_is_named() -> None:
    # Nothing listens.
    failure = await probe(f"ws://127.0.0.1:{free_port()}/backend")
    assert failure == UpstreamFailure("refused", "connection refused")

    # An HTTP status instead of the switch to WebSocket, with and without a reason phrase.
    async with tcp_server(answering(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")) as where:
        failure = await probe(f"ws://{where}/backend")
    assert failure == UpstreamFailure("http_status", "Service Unavailable", 503)
    assert str(failure) == "HTTP 503: Service Unavailable"
    async with tcp_server(answering(b"HTTP/1.1 403 \r\nContent-Length: 0\r\n\r\n")) as where:
        failure = await probe(f"ws://{where}/backend")
    assert failure == UpstreamFailure("forbidden", "", 403)
    assert str(failure) == "HTTP 403"
    async with tcp_server(answering(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")) as where:
        failure = await probe(f"ws://{where}/backend")
    assert failure is not None and failure.kind == "not_found"

    # Connected, but the server hangs up at once, or never answers the handshake.
    async with tcp_server(hang_up) as where:
        failure = await probe(f"ws://{where}/backend")
    assert failure is not None and failure.kind == "handshake"
    async with tcp_server(say_nothing) as where:
        failure = await probe(f"ws://{where}/backend")
    assert failure == UpstreamFailure("timeout", "no answer in time")
    assert str(failure) == "timeout: no answer in time"

    # wss:// to a server that speaks no TLS.
    async with tcp_server(speak_plain_http) as where:
        failure = await probe(f"wss://{where}/backend", ssl_context=ssl.create_default_context())
    assert failure is not None and failure.kind == "tls"

    # Not a WebSocket URL at all.
    failure = await probe("http://127.0.0.1/backend")
    assert failure is not None and failure.kind == "invalid_url"


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns", "dns: Name or service not known"),
        (OSError(errno.ECONNREFUSED, "Connect call failed"), "refused", "refused: connection refused"),
        (OSError("Multiple exceptions: Connect call failed: refused"), "refused", "refused: connection refused"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable", "unreachable: Network is unreachable"),
        (ConnectionClosedError(Close(1011, "backend error"), None), "closed", "closed: code 1011"),
        (ConnectionClosedError(None, None), "closed", "closed: code none"),
        (RuntimeError("surprise"), "unreachable", "unreachable: RuntimeError: surprise"),
    ],
)
def test_failures_met_on_the_way_are_classified(error: BaseException, kind: str, text: str) -> None:
    """Failures a probe on 127.0.0.1 cannot play (no name lookups, no routes): the same words."""
    failure = describe_failure(error)
    assert (failure.kind, str(failure)) == (kind, text)
