"""An asyncio service inside the house's service life (lab.services.process.serve): the loop runs
in a daemon thread, so the main thread can wait for SIGTERM as every service does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from lab.services.errors import ServiceError


def start_in_thread(start: Callable[[], Awaitable[None]]) -> None:
    """Run `start()` and then the event loop forever in a daemon thread; a failure to start (an
    address it cannot listen on) is raised here as a ServiceError."""
    loop, started, failed = asyncio.new_event_loop(), threading.Event(), []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except OSError as e:
            failed.append(e)
            return
        finally:
            started.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    if not started.wait(10) or failed:
        raise ServiceError(f"cannot start: {failed[0] if failed else 'no answer in 10 s'}")
