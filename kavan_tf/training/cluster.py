"""Multi-worker training: checking ``TF_CONFIG``, who writes what, clean exits.

Every worker of a ``MultiWorkerMirroredStrategy`` cluster runs the same
``kavan train`` command and the same callbacks, because saving a model reads
variables that collective ops keep in sync. Only the chief (task ``chief``, or
``worker`` 0 when the cluster has no ``chief``) writes to the output folder;
the other workers write to a temporary folder of their own, removed when
training ends, as TensorFlow's multi-worker convention has it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import tensorflow as tf

logger = logging.getLogger(__name__)

_TASK_TYPES = ("chief", "worker")


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster.

    Attributes:
        task_type: ``"chief"`` or ``"worker"`` (``"worker"`` on one machine).
        task_id: The task index.
        num_workers: Tasks that train (chief and workers; 1 on one machine).
        has_chief: The cluster has a ``chief`` task (else worker 0 is the chief).
    """

    task_type: str = "worker"
    task_id: int = 0
    num_workers: int = 1
    has_chief: bool = False

    @property
    def is_chief(self) -> bool:
        if self.task_type == "chief":
            return True
        return self.task_type == "worker" and self.task_id == 0 and not self.has_chief


def check_tf_config(raw: str | None = None) -> WorkerRole | None:
    """Validates ``TF_CONFIG`` before any connection is made.

    Args:
        raw: The JSON text; ``os.environ["TF_CONFIG"]`` when ``None``.

    Returns:
        The role of this process, or ``None`` when ``TF_CONFIG`` is unset or
        names a single task (no cluster).

    Raises:
        ValueError: ``TF_CONFIG`` is not JSON, has no ``task``, names a task
            type or index the cluster lacks, has an address that is not
            ``host:port``, or has task types other than ``chief``/``worker``.
    """
    raw = os.environ.get("TF_CONFIG", "") if raw is None else raw
    if not raw.strip():
        return None
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON: {e}. Received: TF_CONFIG={raw!r}") from e
    if not isinstance(values, dict) or not isinstance(values.get("cluster", {}), dict):
        raise ValueError(f"TF_CONFIG must be an object with a `cluster` object. Received: {raw!r}")
    cluster = values.get("cluster", {})
    size = 0
    for task_type, addresses in cluster.items():
        if task_type not in _TASK_TYPES + ("evaluator",):
            raise ValueError(
                f"TF_CONFIG: task type {task_type!r} is not supported by "
                f"MultiWorkerMirroredStrategy (use 'chief' and 'worker'). Received: {raw!r}"
            )
        if not isinstance(addresses, list) or not addresses:
            raise ValueError(f"TF_CONFIG: cluster.{task_type} must be a non-empty list of "
                             f"'host:port' addresses. Received: {addresses!r}")
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"TF_CONFIG: cluster.{task_type} address {address!r} is not "
                                 "'host:port'")
        if task_type in _TASK_TYPES:
            size += len(addresses)
    if size <= 1:
        return None
    task = values.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(f"TF_CONFIG names a cluster but no task {{'type': ..., 'index': ...}} "
                         f"for this process. Received: {raw!r}")
    task_type, task_id = task["type"], task["index"]
    if task_type not in cluster:
        raise ValueError(f"TF_CONFIG: task type {task_type!r} is not in the cluster "
                         f"{sorted(cluster)}")
    if not isinstance(task_id, int) or not 0 <= task_id < len(cluster[task_type]):
        raise ValueError(f"TF_CONFIG: task index {task_id!r} is out of range for "
                         f"{len(cluster[task_type])} {task_type!r} tasks")
    return WorkerRole(task_type, task_id, size, has_chief="chief" in cluster)


def role_of(strategy: tf.distribute.Strategy) -> WorkerRole:
    """The role of this process under ``strategy`` (chief when not multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return WorkerRole()
    spec = resolver.cluster_spec().as_dict()
    if not spec:
        return WorkerRole()
    size = sum(len(spec.get(t, [])) for t in _TASK_TYPES)
    return WorkerRole(resolver.task_type or "worker", int(resolver.task_id or 0), size,
                      has_chief="chief" in spec)


@contextlib.contextmanager
def write_dir(output_dir: str, role: WorkerRole,
              cleanup: list[str] | None = None) -> Iterator[str]:
    """The folder this worker writes to: ``output_dir`` on the chief, else a
    temporary folder that is removed when the block ends (also on errors, and
    on a signal when it is listed in ``cleanup``, see :func:`exit_on_signals`)."""
    if role.is_chief:
        yield output_dir
        return
    # One name per output folder and task: a worker killed with SIGKILL
    # leaves its folder behind, and its restart clears it.
    key = hashlib.sha1(os.path.abspath(output_dir).encode()).hexdigest()[:12]
    temp = os.path.join(tempfile.gettempdir(), f"kavan-{role.task_type}{role.task_id}-{key}")
    shutil.rmtree(temp, ignore_errors=True)
    os.makedirs(temp)
    logger.info("%s %d is not the chief: writing to %s (removed at the end)",
                role.task_type, role.task_id, temp)
    if cleanup is not None:
        cleanup.append(temp)
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def restore_backup(chief_backup: str, own_backup: str) -> None:
    """Copies the chief's last ``BackupAndRestore`` state into a worker's own
    backup folder, so that every worker resumes from the same epoch.

    The chief's backup folder must be on storage every worker can read (a
    shared file system or a bucket), as with TensorFlow's own multi-worker
    backups.
    """
    if os.path.abspath(chief_backup) == os.path.abspath(own_backup):
        return
    if os.path.isdir(chief_backup):
        shutil.copytree(chief_backup, own_backup, dirs_exist_ok=True)


@contextlib.contextmanager
def exit_on_signals(role: WorkerRole, what: str = "kavan train") -> Iterator[list[str]]:
    """Makes SIGTERM and SIGINT end a worker of a cluster at once, with a
    message and status ``128 + signal``.

    A worker blocked in a collective op (its peer died or hangs) never returns
    to Python to run a signal handler, and its data iterators can hang in
    their destructors at exit. So the signals are reported through
    ``signal.set_wakeup_fd``, which the interpreter writes from whichever
    thread receives them, to a thread that prints the message, removes the
    folders listed in the yielded list and ends the process with ``os._exit``.
    On one machine nothing changes (Ctrl-C raises ``KeyboardInterrupt``).

    Yields:
        A list to append folders to remove on such an exit.
    """
    cleanup: list[str] = []
    if role.num_workers <= 1 or threading.current_thread() is not threading.main_thread():
        yield cleanup
        return
    read_end, write_end = socket.socketpair()
    write_end.setblocking(False)
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.signal(s, lambda *_: None) for s in signals}
    previous_fd = signal.set_wakeup_fd(write_end.fileno(), warn_on_full_buffer=False)

    def wait() -> None:
        while True:
            data = read_end.recv(1)
            if not data:  # closed: training ended
                return
            number = data[0]
            if number in signals:
                break
        logger.warning("%s: %s %s got %s; exiting", what, role.task_type, role.task_id,
                       signal.Signals(number).name)
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True)
        os._exit(128 + number)

    waiter = threading.Thread(target=wait, name="kavan-signal-waiter", daemon=True)
    waiter.start()
    try:
        yield cleanup
    finally:
        signal.set_wakeup_fd(previous_fd)
        for s, handler in previous.items():
            signal.signal(s, handler)
        write_end.close()
        read_end.shutdown(socket.SHUT_RDWR)
        waiter.join(timeout=5)
        read_end.close()
