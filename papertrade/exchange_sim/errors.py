"""Binance error answers: ``{"code": -NNNN, "msg": "..."}`` with the HTTP status Binance uses.

ccxt maps a Binance error by its ``msg`` first (a few exact messages such as
"Account has insufficient balance for requested action." -> ``InsufficientFunds``), then by
body substrings (``LOT_SIZE``/``PRICE_FILTER`` -> ``InvalidOrder``), then by ``code``; so both
the code and the exact message text matter and are copied from Binance's documentation.
"""

from __future__ import annotations

from typing import Final

from papertrade.util.text import one_line

NUMBER_PATTERN: Final = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
CLIENT_ID_PATTERN: Final = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"


class ApiError(Exception):
    """A Binance error answer; the server turns it into a JSON body with ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, object]:
        """The JSON body Binance sends for this error."""
        return {"code": self.code, "msg": self.msg}


def unknown_status() -> ApiError:
    """-1007: the backend timed out; the request may or may not have been executed."""
    return ApiError(
        -1007,
        "Timeout waiting for response from backend server. "
        "Send status unknown; execution status unknown.",
        503,
    )


def unsupported(path: str) -> ApiError:
    """-1020 for a path the emulator does not serve (HTTP 404)."""
    return ApiError(-1020, f"This operation is not supported: {one_line(path, 200)}", 404)


def timestamp_ahead() -> ApiError:
    return ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def timestamp_outside_window() -> ApiError:
    return ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def bad_signature() -> ApiError:
    return ApiError(-1022, "Signature for this request is not valid.")


def illegal_characters(name: str, pattern: str = NUMBER_PATTERN) -> ApiError:
    return ApiError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{pattern}'."
    )


def duplicate_parameter() -> ApiError:
    return ApiError(-1101, "Duplicate values for a parameter detected.")


def missing(name: str) -> ApiError:
    """-1102: a mandatory parameter is absent or empty."""
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def missing_either(first: str, second: str) -> ApiError:
    return ApiError(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


def not_required(name: str) -> ApiError:
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


def too_much_precision(name: str) -> ApiError:
    return ApiError(-1111, f"Parameter '{name}' has too much precision.")


def invalid_time_in_force() -> ApiError:
    return ApiError(-1115, "Invalid timeInForce.")


def invalid_order_type() -> ApiError:
    return ApiError(-1116, "Invalid orderType.")


def invalid_side() -> ApiError:
    return ApiError(-1117, "Invalid side.")


def invalid_interval() -> ApiError:
    return ApiError(-1120, "Invalid interval.")


def invalid_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def invalid_parameter(name: str) -> ApiError:
    return ApiError(-1130, f"Invalid data sent for a parameter: '{name}'.")


def bad_recv_window() -> ApiError:
    return ApiError(-1131, "recvWindow must be less than 60000")


def filter_failure(name: str) -> ApiError:
    """-1013 with Binance's exact text, e.g. ``Filter failure: LOT_SIZE``."""
    return ApiError(-1013, f"Filter failure: {name}")


def market_closed() -> ApiError:
    return ApiError(-1013, "Market is closed.")


def insufficient_balance() -> ApiError:
    return ApiError(-2010, "Account has insufficient balance for requested action.")


def duplicate_order() -> ApiError:
    return ApiError(-2010, "Duplicate order sent.")


def would_take() -> ApiError:
    return ApiError(-2010, "Order would immediately match and take.")


def unknown_order_cancel() -> ApiError:
    return ApiError(-2011, "Unknown order sent.")


def order_does_not_exist() -> ApiError:
    return ApiError(-2013, "Order does not exist.")


def api_key_format() -> ApiError:
    return ApiError(-2014, "API-key format invalid.", 401)


def invalid_api_key() -> ApiError:
    return ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
