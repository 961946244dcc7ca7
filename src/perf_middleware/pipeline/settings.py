"""The resolved settings of the response pipeline, shared by every request of a middleware.

Built once by ``PerformanceMiddleware`` from its keyword options so the per-request
``Responder`` reads plain attributes (no option parsing on the hot path), and so a cache
stage can run the very same pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perf_middleware.compression.codecs import Codecs, CompressionConfig
from perf_middleware.http.etag import etag_bytes
from perf_middleware.pipeline.plans import Plans
from perf_middleware.policy import Policy

ETAG_MEMO_ENTRIES = 32
ETAG_MEMO_MAX_BODY = 16 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Pipeline:
    """``compression``/``codecs``/``policy`` are None when that stage is off.

    * ``etag``: add a strong blake3 ETag to buffered 200 responses to GET (and HEAD with
      a body) without one.
    * ``conditional``: answer 304/412 for GET/HEAD from the response's validators.
    * ``etag_max_bytes``: bodies above this are not hashed, which bounds the time one
      response spends hashing.
    * ``offload_size``: compress bodies/chunks at least this big in a worker thread.
    """

    compression: CompressionConfig | None
    codecs: Codecs | None
    policy: Policy | None
    etag: bool = True
    conditional: bool = True
    etag_max_bytes: int = 8 * 2**20
    offload_size: int = 64 * 1024
    #: ETags of recently hashed body objects: id(body) -> (body, ETag). An app that sends
    #: the same bytes object again (a constant, a cached render) is not hashed again; the
    #: entry keeps its body alive, so an id is never reused while it is here. Bounded by
    #: ``ETAG_MEMO_ENTRIES`` bodies of at most ``ETAG_MEMO_MAX_BODY`` bytes each. Kept
    #: because it pays: hashing is a large part of what a planned response costs.
    etag_memo: dict[int, tuple[bytes, bytes]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    #: Identity responses already worked out, reused for a repeated answer (``plans``).
    plans: Plans = field(default_factory=Plans, init=False, repr=False, compare=False)

    def etag_for(self, body: bytes) -> bytes:
        """The strong ETag (header bytes) of ``body``, from the memo when it is the very
        object hashed before."""
        key = id(body)
        known = self.etag_memo.get(key)
        if known is not None and known[0] is body:
            return known[1]
        etag = etag_bytes(body)
        if len(body) <= ETAG_MEMO_MAX_BODY and type(body) is bytes:  # immutable only
            memo = self.etag_memo
            if len(memo) >= ETAG_MEMO_ENTRIES:
                del memo[next(iter(memo))]  # the oldest
            memo[key] = (body, etag)
        return etag

    @classmethod
    def build(
        cls,
        *,
        compression: CompressionConfig | None,
        policy: Policy | None,
        etag: bool,
        conditional: bool,
        etag_max_bytes: int,
    ) -> Pipeline:
        if etag_max_bytes < 0:
            raise ValueError(
                f"etag_max_bytes={etag_max_bytes} is negative. HINT: use 0 to hash only empty "
                "bodies, or etag=False to switch ETag generation off."
            )
        return cls(
            compression=compression,
            codecs=Codecs(compression) if compression is not None else None,
            policy=policy,
            etag=etag,
            conditional=conditional,
            etag_max_bytes=etag_max_bytes,
            offload_size=compression.offload_size if compression is not None else 64 * 1024,
        )
