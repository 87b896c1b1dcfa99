"""People linked to companies by e-mail domain, as Attio does.

Attio documents that creating a person (through the API too) generates or matches a company
from the e-mail address's domain. The sandbox does it on every write that sets a person's
e-mail addresses:
- the domain is the root domain of the first address that is not personal mail (a person
  with only gmail.com-style addresses gets no company: Attio does not make companies of
  personal-mail providers; its list is not published, `PERSONAL_EMAIL_DOMAINS` is ours) nor a
  domain reserved for examples and tests (`RESERVED_DOMAINS`: the sandbox's own choice);
- a company holding that domain is matched, else one is created (named after the domain);
- a `company` value written in the same request wins, and a company chosen by hand (one that
  does not hold the old address's domain) is kept when the address changes. A person whose new
  addresses name no company keeps the one they had: Attio documents linking, not unlinking.

The link is a write of its own after the person's (a `record.updated` of `company`, and a
`record.created` for a new company), made by the same actor. Which actor Attio's own link
write carries is not documented.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COMPANY_ATTRIBUTE = "company"
EMAILS_ATTRIBUTE = "email_addresses"
DOMAINS_ATTRIBUTE = "domains"

# Personal-mail providers (and their common country variants): no company is made of them.
PERSONAL_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
        "ymail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com",
        "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com",
        "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "yandex.com", "yandex.ru", "mail.ru",
        "zohomail.com", "fastmail.com", "hey.com", "tutanota.com", "qq.com", "163.com",
        "126.com", "naver.com", "orange.fr", "free.fr", "btinternet.com", "comcast.net",
    }
)  # fmt: skip


# Domains reserved for documentation and testing (RFC 2606, RFC 6761): no company can own
# one, so the sandbox makes no company of them either. Fixtures use them for people whose
# company does not matter; a test about companies uses a domain such as acme.io.
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
RESERVED_SUFFIXES = (".example", ".test", ".invalid", ".localhost")


def is_company_domain(domain: str) -> bool:
    return not (
        domain in PERSONAL_EMAIL_DOMAINS
        or domain in RESERVED_DOMAINS
        or domain.endswith(RESERVED_SUFFIXES)
    )


def company_domain(emails: Iterable[dict[str, Any]]) -> str | None:
    """The domain a person's company is linked by: their first work address's root domain.

    `emails` are stored e-mail values (`email_domain`, `email_root_domain`, ...).
    """
    for fields in emails:
        domain, root = fields.get("email_domain"), fields.get("email_root_domain")
        if root and domain and is_company_domain(str(domain)) and is_company_domain(str(root)):
            return str(root)
    return None


def company_name(domain: str) -> str:
    """What Attio shows for a company it made from a domain before enrichment names it."""
    return domain.split(".", 1)[0].replace("-", " ").title()
