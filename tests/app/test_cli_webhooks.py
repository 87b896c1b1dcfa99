"""`attio-bridge webhooks register`: only a URL Attio could deliver to is accepted."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.cli.webhooks import url_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://x.onrender.com",
        "https://x.onrender.com/",
        "https://bridge.example.com:8443/webhooks/attio",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://[::1]:8000",
    ],
)
def test_https_urls_and_loopback_http_are_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_x",
        "http://169.254.169.254.nip.io/latest/meta-data",
        "http://x.onrender.com",
        "http://127.0.0.1.nip.io:8000",  # contains "://127.0.0.1" but is not loopback
        "http://localhost.evil.com",
        "ftp://x.onrender.com",
        "x.onrender.com",
        "https://",
        "https://user:pw@x.onrender.com",
        "https://x.onrender.com/?next=http://169.254.169.254",
        "https://x.onrender.com:notaport",
        "javascript:alert(1)",
    ],
)
def test_anything_else_is_refused_with_exit_code_2(url: str) -> None:
    assert url_problem(url)
    result = CliRunner().invoke(cli, ["webhooks", "register", url])
    assert result.exit_code == 2
    assert "error:" in result.output
