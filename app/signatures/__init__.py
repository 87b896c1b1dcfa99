"""Webhook signature verification, run on the exact raw request before any parsing.

Every verifier raises `app.errors.SignatureError` (401) when a request is not authenticated and
returns normally otherwise. They are pure apart from the Braintree SDK call, so the replay path
can run them again on stored raw requests.
"""

from app.signatures.attio import (
    ATTIO_LEGACY_SIGNATURE_HEADER,
    ATTIO_SIGNATURE_HEADER,
    attio_signature_from_headers,
    verify_attio_signature,
)
from app.signatures.braintree import (
    BT_CHALLENGE,
    BT_PAYLOAD,
    BT_SIGNATURE,
    BraintreeWebhookVerifier,
    braintree_form_fields,
)
from app.signatures.zoho import (
    ZOHO_SIGNATURE_HEADER,
    verify_zoho_crm_token,
    verify_zoho_signature,
    zoho_signature_from_headers,
    zoho_signing_message,
)

__all__ = [
    "ATTIO_LEGACY_SIGNATURE_HEADER",
    "ATTIO_SIGNATURE_HEADER",
    "BT_CHALLENGE",
    "BT_PAYLOAD",
    "BT_SIGNATURE",
    "ZOHO_SIGNATURE_HEADER",
    "BraintreeWebhookVerifier",
    "attio_signature_from_headers",
    "braintree_form_fields",
    "verify_attio_signature",
    "verify_zoho_crm_token",
    "verify_zoho_signature",
    "zoho_signature_from_headers",
    "zoho_signing_message",
]
