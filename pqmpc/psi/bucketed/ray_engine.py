"""The Ray engine: each party runs the bucket sessions on Ray actors of its own Ray cluster.

The organisations do not share a cluster: each party's driver (the ``pqmpc psi``
process) joins its own cluster (``ray.init(address)``; ``"local"`` starts a
private single-machine instance for the run) and starts ``N`` actors, ``N`` the
agreed worker count. Actor ``i`` of the serving party listens on its node
(port ``listen_port + 1 + i``, or any free port when the listening port is 0),
the serving driver sends the actors' addresses over the control connection,
and actor ``i`` of the connecting party dials actor ``i`` of the serving party;
each pair runs the secure-channel handshake with the parties' keys, so an
address in that list is worth nothing to anyone without them. Buckets are
dealt statically (bucket ``todo[k]`` to pair ``k mod N``) so that both drivers
feed a pair the same bucket without asking each other; the listening actor
checks the bucket the dialing one names.

The driver reads a bucket's files and ships them to the actor through Ray's
object store (no shared file system needed between the nodes), gets the
bucket's output back, and saves it and the manifest itself, as the local engine
does; so resuming, the manifest and the merge are the same.
"""

from __future__ import annotations

from ...errors import PqmpcError, ProtocolError
from .manifest import save_output
from .partition import load_bucket
from .sessions import REQUEST_MAX, REQUEST_STEP, bucket_session, check_request

__all__ = ["ray_engine", "BucketActor", "ADDRESSES_STEP", "check_addresses"]

ADDRESSES_STEP = "bucketed PSI (Ray actor addresses)"


class BucketActor:
    """One worker of a party on its Ray cluster: one secure connection, its pair's buckets in turn."""

    def __init__(self, ctx, channels, timeout: float | None):
        self.ctx, self.channels, self.timeout = ctx, channels, timeout
        self.listener = None
        self.ch = None
        self.target = None

    def listen(self, host: str, port: int) -> list:
        self.listener = self.channels.listen(host, port)
        if host in ("", "0.0.0.0", "::"):
            import ray

            host = ray.util.get_node_ip_address()
        return [host, int(self.listener.port)]

    def dial_to(self, host: str, port: int) -> None:
        """Make this the dialing actor of its pair; the connection opens on the first bucket."""
        self.target = (host, port)

    def run(self, b: int, bucket):
        if self.ch is None:
            if self.target is not None:
                self.ch = self.channels.dial(*self.target, self.timeout)
            else:
                self.ch = self.channels.accept(self.listener, self.timeout)
                self.listener.close()
        if self.target is not None:
            self.ch.send_json({"run": self.ctx.run_id, "bucket": b})
        else:
            got = check_request(self.ctx, self.ch.recv_json(REQUEST_STEP, max_bytes=REQUEST_MAX))
            if got != b:
                raise ProtocolError(f"{REQUEST_STEP}: the peer's actor asks for bucket {got}, this pair's next is {b}")
        return bucket_session(self.ctx, b, bucket, self.ch)

    def finish(self) -> None:
        if self.ch is None:
            return
        if self.target is not None:
            self.ch.send_json({"run": self.ctx.run_id, "bucket": None})
        elif check_request(self.ctx, self.ch.recv_json(REQUEST_STEP, max_bytes=REQUEST_MAX)) is not None:
            raise ProtocolError(f"{REQUEST_STEP}: the peer's actor asks for more buckets than were dealt")
        self.ch.close()


def check_addresses(msg, n: int) -> list:
    ok = isinstance(msg, dict) and set(msg) == {"actors"} and isinstance(msg["actors"], list)
    ok = ok and len(msg["actors"]) == n
    ok = ok and all(isinstance(a, list) and len(a) == 2 and isinstance(a[0], str) and 0 < len(a[0]) <= 255
                    and isinstance(a[1], int) and not isinstance(a[1], bool) and 0 < a[1] < 65536
                    for a in msg["actors"])
    if not ok:
        raise ProtocolError(f"{ADDRESSES_STEP}: expected {n} [host, port] pairs")
    return msg["actors"]


def _get(ray, ref):
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, PqmpcError):
            raise cause from None
        raise ProtocolError(f"bucket actor failed: {cause or exc}") from None
    except ray.exceptions.RayActorError as exc:
        raise ProtocolError(f"bucket actor died: {exc}") from None


def ray_engine(address: str, channels, listen_host: str, listen_port: int, timeout: float | None = None):
    """An engine for :func:`~.runner.run_bucketed` running on Ray.

    ``address``: ``"auto"``, ``"HOST:PORT"`` (an existing cluster of this party) or ``"local"``
    (a private instance, shut down at the end). ``channels``: a picklable object with
    ``listen(host, port)`` → listener, ``accept(listener, timeout)`` and ``dial(host, port, timeout)``
    → connected secure channels (the actors call them on their nodes).
    """

    def engine(ctx, dials, open_channel, workers, on_result, control=None):
        import ray

        todo = sorted(ctx.todo)
        n = min(workers, len(todo))
        if n <= 0:
            return
        started = not ray.is_initialized()
        if started:
            if address == "local":
                ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        actors = []
        try:
            cls = ray.remote(num_cpus=1, max_restarts=0)(BucketActor)
            actors = [cls.remote(ctx, channels, timeout) for _ in range(n)]
            if not dials:
                ports = [0 if listen_port == 0 else listen_port + 1 + i for i in range(n)]
                addrs = [_get(ray, a.listen.remote(listen_host, p)) for a, p in zip(actors, ports)]
                control.send_json({"actors": addrs})
            else:
                addrs = check_addresses(control.recv_json(ADDRESSES_STEP, max_bytes=64 + 300 * n), n)
                for a, (h, p) in zip(actors, addrs):
                    _get(ray, a.dial_to.remote(h, p))
            queues = [todo[i::n] for i in range(n)]
            running = {}

            def submit(i):
                if queues[i]:
                    b = queues[i].pop(0)
                    bucket = load_bucket(ctx.work_dir, b, ctx.counts[b], ctx.sends_payload)
                    running[actors[i].run.remote(b, bucket)] = (i, b)

            for i in range(n):
                submit(i)
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                i, b = running.pop(ready[0])
                out, stats = _get(ray, ready[0])
                on_result(b, save_output(ctx.output_path(b), out), stats)
                submit(i)
            for a in actors:
                _get(ray, a.finish.remote())
        finally:
            for a in actors:
                ray.kill(a)
            if started:
                ray.shutdown()

    return engine
