"""Money: Decimal amounts with their currency, ISO 4217 minor units, one rounding rule.

Amounts are ``decimal.Decimal``, never float. Minor units come from ISO 4217 (our own table, not CLDR: CLDR
differs for IDR, HUF, COP and IQD). Rounding is ROUND_HALF_UP, applied once, when an amount is posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

#: ISO 4217 minor units for the currencies the fund meets. Currencies not listed have 2.
ISO_4217_EXPONENTS: dict[str, int] = {
    # zero decimals
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four decimals (unit of account)
    "CLF": 4, "UYW": 4,
}


class MoneyError(ValueError):
    """An amount that cannot be money: not a number, a float, or more decimals than its currency allows."""


def exponent(currency: str) -> int:
    return ISO_4217_EXPONENTS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def to_decimal(value) -> Decimal:
    """Parse an exact decimal from a string, int or Decimal. Floats are refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError("amounts must be given as decimal strings, not floats")
    try:
        result = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"{value!r} is not a decimal number") from exc
    if not result.is_finite():
        raise MoneyError(f"{value!r} is not a finite number")
    return result


def check_places(amount: Decimal, currency: str) -> Decimal:
    """Refuse an amount with more decimals than the currency has; return it at the currency's scale."""
    exp = exponent(currency)
    if amount != amount.quantize(quantum(currency), rounding=ROUND_HALF_UP):
        raise MoneyError(f"{currency} amounts have at most {exp} decimal place{'s' if exp != 1 else ''}")
    return amount.quantize(quantum(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The one rounding rule: ROUND_HALF_UP to the currency's minor unit."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    return int(check_places(amount, currency).scaleb(exponent(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    return (Decimal(units).scaleb(-exponent(currency))).quantize(quantum(currency))


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, Decimal):
            raise MoneyError("Money needs a Decimal amount")

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.currency)} {self.currency}"


def format_amount(amount: Decimal, currency: str) -> str:
    """Plain, locale-neutral text of an amount at its currency's scale (thousands separated by commas)."""
    return f"{amount.quantize(quantum(currency)):,}"
