"""During an outage the worker logs one line per loop per interval, not a stack each time."""

from __future__ import annotations

import io
import logging

from oncall.worker.logs import OutageLines


def _log_failures(logger: logging.Logger, count: int, message: str, *args: object) -> None:
    for _ in range(count):
        try:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        except ConnectionError:
            logger.exception(message, *args)


def test_a_queue_outage_is_one_warning_line_per_interval() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(OutageLines(every=60.0))
    logger = logging.getLogger("huey.consumer.Worker-1")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        _log_failures(logger, 50, "Error reading from queue")
        logging.getLogger("huey.consumer.Worker-1").error("a task failed")  # not an outage
        _log_failures(logger, 3, "sweep failed; trying again in %.0f s", 1.0)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = out.getvalue().splitlines()
    assert lines == [
        "WARNING huey.consumer.Worker-1: Error reading from queue: ConnectionError: Error 111 "
        "connecting to 127.0.0.1:6379. Connection refused. (retrying; 0 like it in the last "
        "60 s not shown)",
        "ERROR huey.consumer.Worker-1: a task failed",
        "WARNING huey.consumer.Worker-1: sweep failed; trying again in 1 s: ConnectionError: "
        "Error 111 connecting to 127.0.0.1:6379. Connection refused. (retrying; 0 like it in "
        "the last 60 s not shown)",
    ]
    assert "Traceback" not in out.getvalue()
