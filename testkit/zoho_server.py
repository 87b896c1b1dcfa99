"""The in-memory Zoho of `testkit.fake_zoho`, served over HTTP on loopback.

For runs where the bridge is a real process (benchmarks): point ZOHO_ACCOUNTS_URL and
ZOHO_API_BASE_URL at it. Every request is handed to `FakeZoho` as if it had reached the real
accounts server or API domain, so it refuses and pages exactly as in the in-process tests.

    python -m testkit.zoho_server --port 8300 --items 300 [--latency-ms 150]
"""

from __future__ import annotations

import argparse

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from testkit.fake_zoho import ACCOUNTS_URL, API_DOMAIN, FakeZoho

TOKEN_PATH = "/oauth/v2/token"


def create_app(zoho: FakeZoho) -> Starlette:
    transport = zoho.transport()

    async def forward(request: Request) -> Response:
        base = ACCOUNTS_URL if request.url.path == TOKEN_PATH else API_DOMAIN
        url = httpx.URL(base).copy_with(
            path=request.url.path, query=request.url.query.encode() or None
        )
        answer = await transport.handle_async_request(
            httpx.Request(
                request.method, url, headers=request.headers.raw, content=await request.body()
            )
        )
        await answer.aread()
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


def environment(url: str) -> dict[str, str]:
    """The bridge's Zoho settings for a server at `url` (the fake's test credentials)."""
    from testkit.fake_zoho import ORGANIZATION_ID

    return {
        "ZOHO_CLIENT_ID": "1000.TESTCLIENT",
        "ZOHO_CLIENT_SECRET": "test-client-secret",
        "ZOHO_REFRESH_TOKEN": "1000.test-refresh-token",
        "ZOHO_ACCOUNTS_URL": url,
        "ZOHO_API_BASE_URL": url,
        "ZOHO_ORGANIZATION_ID": ORGANIZATION_ID,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    zoho = FakeZoho.with_items(args.items, page_latency=args.latency_ms / 1000)
    uvicorn.run(create_app(zoho), host="127.0.0.1", port=args.port, log_config=None)


if __name__ == "__main__":
    main()
