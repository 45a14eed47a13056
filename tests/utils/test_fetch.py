"""Downloads against a real server on 127.0.0.1 that misbehaves in every way a network can."""

import socket
import threading
import time

import pytest

from se_tutorial.data import DatasetNotFoundError, load_dataset
from se_tutorial.utils.fetch import FetchError, fetch

BODY = b"x" * 5000


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Straight to 127.0.0.1, whatever proxy the machine has set."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def serve(reply) -> str:
    """A one-connection server on 127.0.0.1 that answers with ``reply(connection)``; returns its URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def run():
        with server:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)  # the request
                try:
                    reply(connection)
                except OSError:
                    pass  # the client gave up first

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/file.gz"


def short_body(connection):  # promises 5000 bytes, sends 100, closes
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + BODY[:100])


def broken_chunks(connection):  # a chunked body that stops mid-chunk
    connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + BODY[:50])


def not_http(connection):
    connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")


def trickle(connection):  # a byte every 0.2 s: never silent for long, never done
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
    for _ in range(200):
        connection.sendall(b"x")
        time.sleep(0.2)


def whole(connection):
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + BODY)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (short_body, "closed the connection after 100 bytes, before the end of the file"),
        (broken_chunks, "closed the connection after|did not answer as an HTTP server"),
        (not_http, "did not answer as an HTTP server does"),
        (trickle, r"sent only \d+ bytes in 1 s, too slowly to finish"),
    ],
    ids=["short-body", "broken-chunks", "not-http", "trickle"],
)
def test_a_misbehaving_server_ends_in_one_fetch_error(reply, message):
    started = time.monotonic()
    with pytest.raises(FetchError, match=message) as caught:
        fetch(serve(reply), timeout=5, deadline=1)
    assert "127.0.0.1" in str(caught.value) and time.monotonic() - started < 10


def test_a_whole_body_arrives_whole():
    assert fetch(serve(whole), timeout=5) == BODY


def test_a_server_closing_mid_download_is_one_line_of_the_dataset_error(monkeypatch):
    monkeypatch.setattr("se_tutorial.data.fashion_mnist.FASHION_MNIST_MIRRORS", [serve(short_body)[:-7]])
    with pytest.raises(DatasetNotFoundError, match="closed the connection after 100 bytes") as caught:
        load_dataset("fashion-mnist")
    assert "\n" not in str(caught.value)
