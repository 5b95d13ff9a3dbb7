"""``goalgraph serve --workers N``: each worker process dies with the master that started it.

uvicorn's workers otherwise outlive a master killed with ``kill -9`` and keep serving its port,
unmanaged. A worker asks Linux to send it SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), and
a watchdog thread checks the parent every second anyway (other systems, or a parent that died
before the request took effect), forcing an exit if a graceful one takes too long.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
#: Seconds an orphaned worker gets to shut down gracefully before it is ended.
GRACE_SECONDS = 5.0


def die_with_parent() -> None:
    """Make this process end when its parent does (idempotent)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except OSError:  # pragma: no cover - no libc: the watchdog alone
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        log.warning("the master process (pid %d) is gone; this worker stops", parent)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="goalgraph-parent-watch", daemon=True).start()


def create_worker_app() -> Any:
    """The app of one worker process (a uvicorn factory), bound to the life of its master."""
    from goalgraph.app import create_app
    from goalgraph.collector import tune_for_serving

    die_with_parent()
    app = create_app()
    tune_for_serving()
    return app
