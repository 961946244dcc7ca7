"""What a browser test sees of the network: DevTools protocol events (``Wire``) and the
request headers the server received (``Recorder``)."""

from __future__ import annotations

from typing import Any


class Wire:
    """Network events of one page from the DevTools protocol, by URL.

    A module script is fetched twice, by the ``Link`` preload and by the ``<script>`` that
    then takes the preloaded response; the network fetch is the one with body bytes."""

    def __init__(self, context: Any, page: Any) -> None:
        self._responses: dict[str, dict[str, Any]] = {}  # request id -> response
        self._finished: dict[str, int] = {}  # request id -> bytes received
        cdp = context.new_cdp_session(page)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._done)
        cdp.send("Network.enable")

    def _response(self, event: dict[str, Any]) -> None:
        self._responses[event["requestId"]] = event["response"]

    def _done(self, event: dict[str, Any]) -> None:
        self._finished[event["requestId"]] = int(event["encodedDataLength"])

    def _body(self, request_id: str) -> int:
        """Bytes of the body on the wire: everything received minus the header block."""
        finished = self._finished.get(request_id)
        if finished is None:
            return -1
        return finished - int(self._responses[request_id]["encodedDataLength"])

    def fetched(self, suffix: str) -> tuple[dict[str, Any], int] | None:
        """(response, body bytes on the wire) of the network fetch of the URL ending in
        ``suffix``, once it finished."""
        ids = [i for i, r in self._responses.items() if r["url"].endswith(suffix)]
        best = max(ids, key=self._body, default=None)
        if best is None or self._body(best) < 0:
            return None
        return self._responses[best], self._body(best)


class Recorder:
    """ASGI wrapper keeping the request headers the server received, by path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: dict[str, dict[str, str]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"]}
            self.seen.setdefault(scope["path"], headers)
        await self.app(scope, receive, send)
