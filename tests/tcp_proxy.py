"""A TCP proxy on 127.0.0.1 in front of a real server, which can drop a connection at a chosen moment.

``drop_after_commit()`` arms it once: the next client message holding ``COMMIT`` is passed to
PostgreSQL, the server's answer is swallowed, and the client's connection is closed. The
transaction is then committed on the server while the client only sees a lost connection.
With ``then_stop=True`` the proxy also stops (every connection closed, no new ones), as if the
server went away right after committing.
"""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._armed = threading.Event()
        self._stop_after_drop = False
        self._trigger = b""
        self.commits_dropped = 0
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_after_commit(self, *, of: bytes = b"INSERT INTO artifact", then_stop: bool = False) -> None:
        """Drop the connection after the COMMIT of the next transaction that sent ``of``."""
        self._trigger = of
        self._stop_after_drop = then_stop
        self._armed.set()

    def url(self, server_url: str) -> str:
        """``server_url`` (postgresql://user@127.0.0.1:PORT/db) rewritten to go through the proxy."""
        head, rest = server_url.rsplit(":", 1)
        database = rest.split("/", 1)[1]
        return f"{head}:{self.port}/{database}"

    def close(self) -> None:
        self._closed = True
        _close(self._listener, *self._sockets)  # shutdown() also wakes the thread blocked in accept()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._closed:
                _close(client)
                return
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            state = {"swallow": False, "wrote": False}
            threading.Thread(target=self._upstream, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._downstream, args=(server, client, state), daemon=True).start()

    def _upstream(self, client: socket.socket, server: socket.socket, state: dict[str, bool]) -> None:
        while chunk := _recv(client):
            if self._armed.is_set() and self._trigger in chunk:
                state["wrote"] = True
            if b"COMMIT" in chunk and state["wrote"] and self._armed.is_set():
                self._armed.clear()
                state["swallow"] = True  # before forwarding: the answer must not reach the client
            if not _send(server, chunk):
                break
        _close(client, server)

    def _downstream(self, server: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        while chunk := _recv(server):
            if state["swallow"]:
                self.commits_dropped += 1  # the server committed and answered; the client never hears it
                if self._stop_after_drop:
                    self.close()
                break
            if not _send(client, chunk):
                break
        _close(client, server)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
