"""A TCP relay on 127.0.0.1 to a real server that resets each connection once the server has sent
``limit`` bytes through it: a network that breaks in the middle of an answer."""

from __future__ import annotations

import socket
import struct
import threading
from typing import List


class CuttingRelay:
    def __init__(self, target_port: int, limit: int) -> None:
        self.target_port = target_port
        self.limit = limit
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, None), daemon=True).start()
            threading.Thread(
                target=self._pipe, args=(server, client, self.limit), daemon=True
            ).start()

    def _pipe(self, source: socket.socket, target: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(64 * 1024)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    target.sendall(data[: limit - sent])
                    # SO_LINGER with a zero timeout: close(2) sends a reset (socket(7)). The other
                    # direction's thread blocks in recv on `target` and so holds it open: SHUT_RD
                    # wakes it, and the last close resets the connection.
                    target.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    target.shutdown(socket.SHUT_RD)
                    break
                target.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for each in (source, target):
            each.close()

    def close(self) -> None:
        self._listener.close()
        for each in self._sockets:
            each.close()
