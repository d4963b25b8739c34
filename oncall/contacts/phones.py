"""Phone numbers as paging addresses: E.164 only, validated with libphonenumber's metadata.

Twilio and SNS address numbers in E.164, and inbound SMS arrive with `From` in E.164, so the
stored form must be exactly that for a reply to find its sender.
"""

from __future__ import annotations

import phonenumbers

from oncall.contacts.access import Invalid


class InvalidPhone(Invalid):
    pass


def normalize_phone(text: str, default_region: str | None = None) -> str:
    """`text` as E.164 (`+15551234567`); without a leading `+`, `default_region` (ISO 3166
    alpha-2, e.g. "GB") says which country's national format it is in."""
    raw = text.strip()
    if not raw:
        raise InvalidPhone("a phone number is required")
    if not raw.startswith("+") and not default_region:
        raise InvalidPhone(
            f"{raw!r}: write the number in international form, starting with + and the "
            "country code (e.g. +44 20 7946 0958)"
        )
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number: {exc._msg}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{raw!r} is not a valid phone number for its country")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def display_phone(e164: str) -> str:
    """The international format people read (`+1 555-123-4567`); E.164 if it cannot parse."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
