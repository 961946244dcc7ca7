"""An ASGI wrapper that sends a Content-Security-Policy on every response, as a site with
a strict policy would (for browser tests of what such a policy blocks)."""

from __future__ import annotations

from typing import Any

STRICT = "default-src 'self'; script-src 'self'; require-trusted-types-for 'script'"

#: Init script recording every violation the page reports (init scripts are not subject
#: to the page's policy).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sample}`);
});
"""


class WithCSP:
    """Adds ``Content-Security-Policy: policy`` to each HTTP response of ``app``."""

    def __init__(self, app: Any, policy: str = STRICT) -> None:
        self.app = app
        self.header = (b"content-security-policy", policy.encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != self.header[0]]
                message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_with_policy)
