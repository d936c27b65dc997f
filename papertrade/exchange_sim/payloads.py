"""JSON shapes of Binance spot answers (exchangeInfo symbols, orders, trades, account)."""

from __future__ import annotations

from decimal import Decimal

from papertrade.exchange_sim.accounts import Account, Order, Trade
from papertrade.exchange_sim.filters import fmt
from papertrade.exchange_sim.market import ORDER_TYPES, ReplayedSymbol

RATE_LIMITS: list[dict[str, object]] = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]


def symbol_info(sym: ReplayedSymbol, trading: bool) -> dict[str, object]:
    """One entry of ``exchangeInfo.symbols``."""
    return {
        "symbol": sym.id,
        "status": "TRADING" if trading else "BREAK",
        "baseAsset": sym.base,
        "baseAssetPrecision": 8,
        "quoteAsset": sym.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": list(ORDER_TYPES),
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": sym.filters.as_binance(),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _order_core(order: Order) -> dict[str, object]:
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": fmt(order.price),
        "origQty": fmt(order.orig_qty),
        "executedQty": fmt(order.executed_qty),
        "origQuoteOrderQty": fmt(order.orig_quote_qty),
        "cummulativeQuoteQty": fmt(order.cumm_quote_qty),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
    }


def order_query(order: Order) -> dict[str, object]:
    """``GET /api/v3/order`` (also openOrders/allOrders entries)."""
    return {
        **_order_core(order),
        "stopPrice": fmt(Decimal(0)),
        "icebergQty": fmt(Decimal(0)),
        "time": order.time,
        "updateTime": order.update_time,
        "isWorking": True,
        "workingTime": order.time,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def fill(trade: Trade) -> dict[str, object]:
    return {
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "commission": fmt(trade.commission),
        "commissionAsset": trade.commission_asset,
        "tradeId": trade.id,
    }


def order_placed(order: Order, trades: list[Trade], resp_type: str) -> dict[str, object]:
    """``POST /api/v3/order`` for ``newOrderRespType`` ACK, RESULT or FULL."""
    ack: dict[str, object] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time,
    }
    if resp_type == "ACK":
        return ack
    result = {
        **ack,
        **_order_core(order),
        "workingTime": order.time,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if resp_type == "FULL":
        result["fills"] = [fill(t) for t in trades]
    return result


def order_canceled(order: Order, cancel_client_id: str, now: int) -> dict[str, object]:
    """``DELETE /api/v3/order``: ``clientOrderId`` is the cancel's own id, as on Binance."""
    return {
        **_order_core(order),
        "origClientOrderId": order.client_order_id,
        "clientOrderId": cancel_client_id,
        "transactTime": now,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def my_trade(trade: Trade) -> dict[str, object]:
    return {
        "symbol": trade.symbol,
        "id": trade.id,
        "orderId": trade.order_id,
        "orderListId": -1,
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "quoteQty": fmt(trade.quote_qty),
        "commission": fmt(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time,
        "isBuyer": trade.is_buyer,
        "isMaker": trade.is_maker,
        "isBestMatch": True,
    }


def account_info(account: Account, maker_fee: Decimal, taker_fee: Decimal,
                 omit_zero: bool) -> dict[str, object]:
    """``GET /api/v3/account``."""
    assets = sorted(set(account.free) | set(account.locked))
    balances = [
        {"asset": a, "free": fmt(account.free[a]), "locked": fmt(account.locked[a])}
        for a in assets
        if not omit_zero or account.free[a] != 0 or account.locked[a] != 0
    ]
    return {
        "makerCommission": int(maker_fee * 10_000),
        "takerCommission": int(taker_fee * 10_000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": fmt(maker_fee), "taker": fmt(taker_fee), "buyer": fmt(Decimal(0)),
            "seller": fmt(Decimal(0)),
        },
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": account.update_time,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": 0,
    }
