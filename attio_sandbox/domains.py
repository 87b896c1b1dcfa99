"""Domain and email normalisation, as Attio applies it before storing either.

Attio derives `root_domain` from the public suffix list. The sandbox carries only the common
two-label suffixes (co.uk, com.au, ...), which covers realistic test data without the full list.
"""

from __future__ import annotations

import re

_TWO_LABEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "sch.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "net.nz",
        "co.jp", "ne.jp", "or.jp", "ac.jp", "co.za", "org.za", "com.br", "net.br", "org.br",
        "com.mx", "com.ar", "com.cn", "net.cn", "org.cn", "com.hk", "com.sg", "com.my",
        "com.tr", "co.in", "net.in", "org.in", "co.il", "co.kr", "com.tw", "com.vn", "co.id",
        "com.ph", "com.pk", "com.eg", "com.sa", "co.th", "com.ng", "co.ke",
    }
)  # fmt: skip

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def _check_host(host: str) -> str:
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid domain")
    if not labels[-1].isalpha() or len(labels[-1]) < 2:
        raise ValueError(f"{host!r} has no valid top-level domain")
    return host


def normalize_domain(text: str) -> str:
    """Lower-case host of a domain or URL: scheme, credentials, port, path and query dropped."""
    host = _SCHEME.sub("", text.strip().lower())
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    return _check_host(host)


def root_domain(domain: str) -> str:
    labels = domain.split(".")
    keep = 3 if ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES and len(labels) >= 3 else 2
    return ".".join(labels[-keep:])


def email_properties(original: str) -> dict[str, str]:
    """Attio's five email properties; ValueError if the address is not well formed."""
    text = original.strip()
    local, at, host = text.rpartition("@")
    normalized_local = local.lower()
    invalid = ValueError(f"{original!r} is not a valid email address")
    if not at or not _LOCAL_PART.match(normalized_local) or len(normalized_local) > 64:
        raise invalid
    try:
        domain = _check_host(host.lower())
    except ValueError:
        raise invalid from None
    return {
        "original_email_address": text,
        "email_address": f"{normalized_local}@{domain}",
        "email_domain": domain,
        "email_root_domain": root_domain(domain),
        "email_local_specifier": normalized_local,
    }
