"""``serve``'s waitress: a channel is not writable while a request thread sends (no busy
loop), and answers still arrive whole: small ones on kept-alive connections, and a
large one to a client that reads late (past waitress's high watermark, where the
request thread waits for the I/O thread to drain its buffer)."""

from __future__ import annotations

import hashlib
import http.client
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from ci_bot.web.server import create_server
from ci_bot.web.waitress_channel import QuietChannel

CHUNK = b"0123456789abcdef" * 4096  # 64 KiB
LARGE_CHUNKS = 400  # 25 MiB: more than waitress's 16 MiB high watermark


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/large":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (CHUNK for _ in range(LARGE_CHUNKS))
    body = environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def port() -> Iterator[int]:
    server = create_server(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield int(server.effective_port)
    shut(server)


def shut(server: Any) -> None:
    """Stop the threads and close every socket (listeners, channels, the trigger)."""
    server.task_dispatcher.shutdown()
    sockets = server._map if hasattr(server, "_map") else server.map  # one listener or several
    for dispatcher in list(sockets.values()):
        dispatcher.close()


def test_serve_uses_the_quiet_channel() -> None:
    for host in ("127.0.0.1", "localhost"):  # localhost may be two listeners (IPv4 and 6)
        server = create_server(app, host, 0, threads=1)
        try:
            listeners = [server, *getattr(server, "map", {}).values()]
            classes = {x.channel_class for x in listeners if hasattr(x, "channel_class")}
            assert classes == {QuietChannel}
        finally:
            shut(server)


def test_a_channel_is_not_writable_while_a_thread_sends() -> None:
    channel = QuietChannel.__new__(QuietChannel)  # the flags alone: no socket needed
    channel.total_outbufs_len, channel.will_close, channel.close_when_flushed = 130, False, False
    assert channel.writable()
    channel.sending = True
    assert not channel.writable()
    channel.sending = False
    channel.total_outbufs_len = 0
    assert not channel.writable()
    channel.close_when_flushed = True
    assert channel.writable()


def test_kept_alive_connections_get_every_answer(port: int) -> None:
    answers: dict[str, bytes] = {}
    lock = threading.Lock()

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for request in range(50):
            path = f"/c{number}/r{request}"
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            with lock:
                answers[path] = body
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 400
    assert all(body == path.encode() for path, body in answers.items())


def test_a_large_answer_to_a_late_reader_arrives_whole(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", "/large")
    time.sleep(0.5)  # the request thread fills the socket and waitress's buffers meanwhile
    response = connection.getresponse()
    digest, size = hashlib.sha256(), 0
    while chunk := response.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    connection.close()
    expected = hashlib.sha256(CHUNK * LARGE_CHUNKS).hexdigest()
    assert (size, digest.hexdigest()) == (len(CHUNK) * LARGE_CHUNKS, expected)
