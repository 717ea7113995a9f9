"""HOOK POINT for the storage lease (DESIGN §5), not built yet.

Every task runs inside `storage_lease(...)`. A kind whose `TaskKind.storage_lease` is
"readonly" or "stop" will, once leases exist, take the named storage lease here (holder =
the task id, fencing token = the lease's), renew it while the task works, wait until every
live registry instance acknowledged the mode, and end it on exit however the task ends.
A task whose worker dies simply stops renewing: the lease expires by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from registry.maintenance import LeaseMode

log = logging.getLogger("hth.tasks")


@contextmanager
def storage_lease(task_id: str, kind: str, mode: LeaseMode) -> Iterator[None]:
    if mode != "none":
        log.warning("task %s (%s): storage leases are not implemented yet", task_id, kind)
    yield
