"""One worker or many: the ``tf.distribute`` strategy and this process's place in the cluster.

``--distributed`` runs under :class:`tf.distribute.MultiWorkerMirroredStrategy`: every worker
holds a full copy of the model, reads its own part of the data, and gradients are all-reduced
each step — no parameter server, no scheduler of our own. The cluster is the standard
``TF_CONFIG`` environment variable (TensorFlow's multi-worker guide)::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}'

Worker 0 is the chief: it alone writes checkpoints and logs. When a worker dies the others
cannot go on (their collective ops lose a peer); TensorFlow aborts them, they exit with
:data:`EXIT_PEER_LOST`, and restarting the workers (by hand, or a job manager's restart
policy) resumes every one of them from the last checkpoint in the shared run directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

EXIT_PEER_LOST = 75
"""``EX_TEMPFAIL``: a peer was lost; run the same command again to resume."""


class ClusterError(ValueError):
    """``TF_CONFIG`` is missing or does not describe this worker."""


@dataclass(frozen=True)
class Cluster:
    workers: int = 1
    index: int = 0

    @property
    def is_chief(self) -> bool:
        return self.index == 0


def cluster_from_env(environ: dict[str, str] | None = None) -> Cluster:
    """This worker's place, from ``TF_CONFIG`` (a clear error when it is missing or wrong)."""
    env = os.environ if environ is None else environ
    raw = env.get("TF_CONFIG")
    if not raw:
        raise ClusterError(
            '--distributed needs TF_CONFIG, e.g. TF_CONFIG=\'{"cluster": {"worker": '
            '["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
        )
    try:
        config = json.loads(raw)
        workers = list(config["cluster"]["worker"])
        task = config["task"]
        index = int(task["index"])
    except (ValueError, KeyError, TypeError) as err:
        raise ClusterError(f"TF_CONFIG is not a cluster description ({err})") from err
    if task.get("type", "worker") not in ("worker", "chief"):
        raise ClusterError(f"task type {task.get('type')!r}: only workers run notegen fits")
    if "chief" in config["cluster"]:
        raise ClusterError("give every machine as a 'worker' (worker 0 is the chief)")
    if not 0 <= index < len(workers):
        raise ClusterError(f"task index {index} is not one of the {len(workers)} workers")
    return Cluster(len(workers), index)


def make_strategy(distributed: bool) -> tuple[Any, Cluster]:
    """The strategy (created before any other TensorFlow op, as MWMS requires) and cluster."""
    import tensorflow as tf

    if not distributed:
        return tf.distribute.get_strategy(), Cluster()
    cluster = cluster_from_env()
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options), cluster


def is_peer_lost(err: BaseException) -> bool:
    """Errors TensorFlow raises in the survivors when a worker of the collective is gone."""
    import tensorflow as tf

    return isinstance(
        err, (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError)
    ) or (isinstance(err, tf.errors.InternalError) and "collective" in str(err).lower())
