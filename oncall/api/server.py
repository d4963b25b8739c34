"""Running the API under uvicorn, one process or several sharing one listening socket.

uvicorn's supervisor of several processes keeps its own copy of the listening socket open until
the last process has finished its requests in flight. Meanwhile the kernel goes on accepting
connections into the socket's backlog that no process will ever read, and resets them at the
end: a load balancer sees a connection made and then dropped, and does not retry a POST. Our
supervisor lets go of its copy first, so that once the processes stop listening a new
connection is refused, as it is from a single process, and the balancer tries another.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess


class Supervisor(Multiprocess):
    """uvicorn's supervisor, closing its copy of the listening sockets before the stop."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def run_server(app: str, **options: Any) -> None:
    """`uvicorn.run(app, **options)`, with `Supervisor` when several processes serve."""
    if options.get("workers", 1) <= 1:
        uvicorn.run(app, **options)
        return
    config = uvicorn.Config(app, **options)
    sock = config.bind_socket()
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        sock.close()
