"""Phone numbers to E.164 and an ISO country, the way Attio stores them.

Attio validates with full numbering plans; the sandbox only needs the country calling code to
normalise a number and name its country, so it carries that table and checks the E.164 length.
Codes shared by several countries resolve to the first country listed for them (+1 is the US).
"""

from __future__ import annotations

import re

_CALLING_CODES: tuple[tuple[str, str], ...] = (
    ("US", "1"), ("CA", "1"), ("RU", "7"), ("KZ", "7"), ("EG", "20"), ("ZA", "27"),
    ("GR", "30"), ("NL", "31"), ("BE", "32"), ("FR", "33"), ("ES", "34"), ("HU", "36"),
    ("IT", "39"), ("RO", "40"), ("CH", "41"), ("AT", "43"), ("GB", "44"), ("DK", "45"),
    ("SE", "46"), ("NO", "47"), ("PL", "48"), ("DE", "49"), ("PE", "51"), ("MX", "52"),
    ("CU", "53"), ("AR", "54"), ("BR", "55"), ("CL", "56"), ("CO", "57"), ("VE", "58"),
    ("MY", "60"), ("AU", "61"), ("ID", "62"), ("PH", "63"), ("NZ", "64"), ("SG", "65"),
    ("TH", "66"), ("JP", "81"), ("KR", "82"), ("VN", "84"), ("CN", "86"), ("TR", "90"),
    ("IN", "91"), ("PK", "92"), ("AF", "93"), ("LK", "94"), ("MM", "95"), ("IR", "98"),
    ("SS", "211"), ("MA", "212"), ("DZ", "213"), ("TN", "216"), ("LY", "218"), ("GM", "220"),
    ("SN", "221"), ("MR", "222"), ("ML", "223"), ("GN", "224"), ("CI", "225"), ("BF", "226"),
    ("NE", "227"), ("TG", "228"), ("BJ", "229"), ("MU", "230"), ("LR", "231"), ("SL", "232"),
    ("GH", "233"), ("NG", "234"), ("TD", "235"), ("CF", "236"), ("CM", "237"), ("CV", "238"),
    ("ST", "239"), ("GQ", "240"), ("GA", "241"), ("CG", "242"), ("CD", "243"), ("AO", "244"),
    ("GW", "245"), ("IO", "246"), ("AC", "247"), ("SC", "248"), ("SD", "249"), ("RW", "250"),
    ("ET", "251"), ("SO", "252"), ("DJ", "253"), ("KE", "254"), ("TZ", "255"), ("UG", "256"),
    ("BI", "257"), ("MZ", "258"), ("ZM", "260"), ("MG", "261"), ("RE", "262"), ("YT", "262"),
    ("ZW", "263"), ("NA", "264"), ("MW", "265"), ("LS", "266"), ("BW", "267"), ("SZ", "268"),
    ("KM", "269"), ("SH", "290"), ("ER", "291"), ("AW", "297"), ("FO", "298"), ("GL", "299"),
    ("GI", "350"), ("PT", "351"), ("LU", "352"), ("IE", "353"), ("IS", "354"), ("AL", "355"),
    ("MT", "356"), ("CY", "357"), ("FI", "358"), ("AX", "358"), ("BG", "359"), ("LT", "370"),
    ("LV", "371"), ("EE", "372"), ("MD", "373"), ("AM", "374"), ("BY", "375"), ("AD", "376"),
    ("MC", "377"), ("SM", "378"), ("VA", "379"), ("UA", "380"), ("RS", "381"), ("ME", "382"),
    ("XK", "383"), ("HR", "385"), ("SI", "386"), ("BA", "387"), ("MK", "389"), ("CZ", "420"),
    ("SK", "421"), ("LI", "423"), ("FK", "500"), ("BZ", "501"), ("GT", "502"), ("SV", "503"),
    ("HN", "504"), ("NI", "505"), ("CR", "506"), ("PA", "507"), ("PM", "508"), ("HT", "509"),
    ("GP", "590"), ("BL", "590"), ("MF", "590"), ("BO", "591"), ("GY", "592"), ("EC", "593"),
    ("GF", "594"), ("PY", "595"), ("MQ", "596"), ("SR", "597"), ("UY", "598"), ("CW", "599"),
    ("BQ", "599"), ("TL", "670"), ("NF", "672"), ("BN", "673"), ("NR", "674"), ("PG", "675"),
    ("TO", "676"), ("SB", "677"), ("VU", "678"), ("FJ", "679"), ("PW", "680"), ("WF", "681"),
    ("CK", "682"), ("NU", "683"), ("WS", "685"), ("KI", "686"), ("NC", "687"), ("TV", "688"),
    ("PF", "689"), ("TK", "690"), ("FM", "691"), ("MH", "692"), ("KP", "850"), ("HK", "852"),
    ("MO", "853"), ("KH", "855"), ("LA", "856"), ("BD", "880"), ("TW", "886"), ("MV", "960"),
    ("LB", "961"), ("JO", "962"), ("SY", "963"), ("IQ", "964"), ("KW", "965"), ("SA", "966"),
    ("YE", "967"), ("OM", "968"), ("PS", "970"), ("AE", "971"), ("IL", "972"), ("BH", "973"),
    ("QA", "974"), ("BT", "975"), ("MN", "976"), ("NP", "977"), ("TJ", "992"), ("TM", "993"),
    ("AZ", "994"), ("GE", "995"), ("KG", "996"), ("UZ", "998"),
)  # fmt: skip

CALLING_CODE_BY_COUNTRY: dict[str, str] = dict(_CALLING_CODES)
# Reversed, so the first country listed for a shared code is the one that stays.
_COUNTRY_BY_CALLING_CODE: dict[str, str] = {
    code: country for country, code in reversed(_CALLING_CODES)
}

_FORMATTING = re.compile(r"[\s\-().]")
INVALID_MESSAGE = "Invalid phone number, possibly due to missing country"


def normalize_phone(original: str, country_code: str | None) -> tuple[str, str]:
    """Return (E.164 number, ISO country); ValueError if the number cannot be placed."""
    text = _FORMATTING.sub("", original)
    country = country_code.upper() if country_code else None
    if country is not None and country not in CALLING_CODE_BY_COUNTRY:
        raise ValueError(f"Unknown country code {country_code!r}")
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif country is not None:
        # A national number: drop the trunk prefix and put the country's code in front.
        digits = CALLING_CODE_BY_COUNTRY[country] + text.lstrip("0")
    else:
        raise ValueError(INVALID_MESSAGE)
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise ValueError(INVALID_MESSAGE)
    if country is not None and digits.startswith(CALLING_CODE_BY_COUNTRY[country]):
        return "+" + digits, country
    for length in (3, 2, 1):
        found = _COUNTRY_BY_CALLING_CODE.get(digits[:length])
        if found is not None:
            return "+" + digits, found
    raise ValueError(INVALID_MESSAGE)
