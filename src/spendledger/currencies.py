"""The currencies the ledger accepts: ISO 4217's active alphabetic codes, as data.

Money is kept in the currency it was charged in (records.py); a code outside this list
is a typo or an invention that would split a total in two ("USD" and "US$"), so every
way records come in refuses it, naming the field. The list is ISO 4217's table A.1
(the codes in use, funds and precious metals included) as of 2025, plus the codes
withdrawn since 2023 that records of that time can still carry (ANG, BGN, SLL, ZWL).
"""

from __future__ import annotations

_TABLE_A1 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD
    EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD
    IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
    PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
    VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR
    ZMW ZWG ZWL
"""
ISO_4217: frozenset[str] = frozenset(_TABLE_A1.split())


def currency_problem(code: str) -> str | None:
    """Why `code` (any case) is not a currency the ledger takes, or None when it is."""
    if code.upper() in ISO_4217:
        return None
    shown = code if len(code) <= 12 else code[:9] + "..."
    return f"currency {shown!r} is not an ISO 4217 code: send a code such as USD, EUR or JPY"
