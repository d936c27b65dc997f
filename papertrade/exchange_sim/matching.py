"""Orders, balances and fills: the emulator's matching engine (the records it keeps are in
:mod:`~papertrade.exchange_sim.accounts`).

Rules (Binance spot semantics, simplified where the data cannot say more):

- A MARKET order fills at once and in full at the touch: buys at the ask, sells at the bid
  (no depth walk). ``quoteOrderQty`` buys/sells ``floor(quoteOrderQty / price)`` steps.
- A LIMIT order that is marketable on arrival (a buy whose limit is at or above the ask, a sell
  at or below the bid) fills at once as taker at ``min(limit, ask)`` / ``max(limit, bid)``;
  otherwise it rests (GTC), expires (IOC/FOK), or for LIMIT_MAKER is rejected.
- A resting order fills as maker at its limit price at the first instant the replayed path
  crosses it (the ask reaching a buy, the bid reaching a sell), checked whenever the emulated
  clock has moved. With ``partial_fill_ratio < 1`` each crossing interval fills that fraction of
  the original quantity (rounded down to the step; a remainder below ``minQty`` fills too).
- Fees: ``taker_fee``/``maker_fee`` (default 0.1 %) of what the account receives: base asset on a
  buy, quote asset on a sell; rounded up to 8 decimals. Quote amounts are rounded half-up to 8.
- Balances: a resting buy locks ``qty * price`` quote, a resting sell locks ``qty`` base; fills
  and cancels release the lock. Per asset, ``free + locked = deposits + fills - fees`` exactly.
- ``newClientOrderId`` must be unique among the account's open orders of a symbol ("Duplicate
  order sent."); a lookup by client order id returns the newest order carrying it.

Every method expects the caller to hold :attr:`MatchingEngine.lock`.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal

from papertrade.exchange_sim import errors
from papertrade.exchange_sim.accounts import (
    ZERO,
    Account,
    Order,
    OrderRequest,
    Trade,
    q8,
)
from papertrade.exchange_sim.market import Market, ReplayedSymbol


class MatchingEngine:
    """Orders, balances and fills over a :class:`Market`; guard every call with ``lock``."""

    def __init__(
        self,
        market: Market,
        *,
        maker_fee: Decimal = Decimal("0.001"),
        taker_fee: Decimal = Decimal("0.001"),
        partial_fill_ratio: float = 1.0,
    ) -> None:
        if not 0 < partial_fill_ratio <= 1:
            raise ValueError("partial_fill_ratio must be in (0, 1]")
        self.market = market
        self.maker_fee = Decimal(maker_fee)
        self.taker_fee = Decimal(taker_fee)
        self.partial_fill_ratio = Decimal(str(partial_fill_ratio))
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.next_order_id: dict[str, int] = defaultdict(lambda: 1)
        self.next_trade_id: dict[str, int] = defaultdict(lambda: 1)
        self.synced_until = 0

    # ------------------------------------------------------------------ accounts

    def add_account(self, api_key: str, secret: str) -> Account:
        account = Account(api_key=api_key, secret=secret)
        self.accounts[api_key] = account
        return account

    def deposit(self, account: Account, asset: str, amount: Decimal, now: int) -> None:
        """Credit ``amount`` of ``asset`` (negative withdraws, never below the free balance)."""
        amount = q8(Decimal(amount))
        if account.free[asset] + amount < 0:
            raise ValueError(f"cannot withdraw {-amount} {asset}: only {account.free[asset]} free")
        account.free[asset] += amount
        account.deposits[asset] += amount
        account.update_time = now

    def wipe(self, account: Account, refill: Mapping[str, Decimal], now: int, *,
             restart_ids: bool = False) -> None:
        """A testnet reset of ``account``: open orders, order and trade history and balances
        gone, then ``refill`` deposited. With ``restart_ids``, order and trade ids start again
        from the lowest that no account still holds (1 on a one-account emulator), as when a
        whole testnet is wiped."""
        for book in (account.free, account.locked, account.deposits):
            book.clear()
        account.orders.clear()
        account.trades.clear()
        account.open_orders.clear()
        for asset, value in refill.items():
            self.deposit(account, asset, value, now)
        if restart_ids:
            kept = self.accounts.values()
            for symbol in self.next_order_id:
                self.next_order_id[symbol] = 1 + max(
                    (o.order_id for a in kept for o in a.orders.get(symbol, ())), default=0)
            for symbol in self.next_trade_id:
                self.next_trade_id[symbol] = 1 + max(
                    (t.id for a in kept for t in a.trades.get(symbol, ())), default=0)

    # ------------------------------------------------------------------ orders

    def place(self, account: Account, req: OrderRequest, now: int) -> tuple[Order, list[Trade]]:
        """Validate filters and balance, create the order and fill what is marketable."""
        sym = self.market.get(req.symbol)
        if not sym.is_trading(now):
            raise errors.market_closed()
        for order in self._open_of(account, req.symbol):
            if order.client_order_id == req.client_order_id:
                raise errors.duplicate_order()
        is_buy = req.side == "BUY"
        touch = self.market.ask(sym, now) if is_buy else self.market.bid(sym, now)
        filters = sym.filters
        if req.type == "MARKET":
            if req.quote_order_qty is not None:
                qty = filters.floor_to_step(req.quote_order_qty / touch)
            elif req.quantity is not None:
                qty = req.quantity
            else:
                raise errors.missing_either("quantity", "quoteOrderQty")
            filters.check_quantity(qty, market_order=True)
            filters.check_notional(qty * touch)
            limit = ZERO
        else:
            if req.quantity is None:
                raise errors.missing("quantity")
            if req.price is None:
                raise errors.missing("price")
            qty, limit = req.quantity, req.price
            filters.check_price(limit)
            filters.check_quantity(qty, market_order=False)
            filters.check_notional(qty * limit)
        marketable = req.type == "MARKET" or self._crossed(sym, is_buy, limit, now)
        if req.type == "LIMIT_MAKER" and marketable:
            raise errors.would_take()
        fill_price = touch if req.type == "MARKET" else (
            min(limit, touch) if is_buy else max(limit, touch)
        )
        rests = not marketable and req.type != "MARKET" and req.time_in_force not in ("IOC", "FOK")
        self._check_funds(account, sym, is_buy, qty, fill_price if marketable else limit, rests)

        order = Order(
            symbol=sym.id,
            order_id=self.next_order_id[sym.id],
            client_order_id=req.client_order_id,
            side=req.side,
            type=req.type,
            time_in_force=req.time_in_force if req.type == "LIMIT" else "GTC",
            price=limit,
            orig_qty=qty,
            orig_quote_qty=req.quote_order_qty or ZERO,
            time=now,
            update_time=now,
            checked_until=now,
        )
        self.next_order_id[sym.id] += 1
        account.orders[sym.id].append(order)
        trades: list[Trade] = []
        if marketable:
            trades.append(self._fill(account, sym, order, qty, fill_price, now, maker=False))
        elif rests:
            order.locked = q8(qty * limit, ROUND_UP) if is_buy else qty
            asset = sym.quote if is_buy else sym.base
            account.free[asset] -= order.locked
            account.locked[asset] += order.locked
            account.open_orders[(sym.id, order.order_id)] = order
        else:
            order.status = "EXPIRED"
        account.update_time = now
        return order, trades

    def cancel(self, account: Account, order: Order, now: int) -> Order:
        """Cancel an open order and release its lock; -2011 if it is not open."""
        if not order.is_open:
            raise errors.unknown_order_cancel()
        sym = self.market.get(order.symbol)
        asset = sym.quote if order.side == "BUY" else sym.base
        account.locked[asset] -= order.locked
        account.free[asset] += order.locked
        order.locked = ZERO
        order.status = "CANCELED"
        order.update_time = now
        account.open_orders.pop((order.symbol, order.order_id), None)
        account.update_time = now
        return order

    def find(self, account: Account, symbol: str, order_id: int | None,
             client_order_id: str | None) -> Order | None:
        """The order by id (precedence) or by client order id; None if unknown."""
        self.market.get(symbol)
        if order_id is not None:
            return account.by_id(symbol, order_id)
        if client_order_id is not None:
            return account.by_client_id(symbol, client_order_id)
        return None

    def open_orders(self, account: Account, symbol: str | None) -> list[Order]:
        orders = account.open_orders.values()
        return sorted(
            (o for o in orders if symbol is None or o.symbol == symbol),
            key=lambda o: (o.time, o.symbol, o.order_id),
        )

    # ------------------------------------------------------------------ the clock moved

    def sync(self, now: int) -> None:
        """Fill resting orders the replayed path crossed since they were last checked."""
        if now <= self.synced_until:
            return
        self.synced_until = now
        for account in self.accounts.values():
            for order in sorted(account.open_orders.values(), key=lambda o: (o.time, o.order_id)):
                if order.checked_until >= now:
                    continue
                start, order.checked_until = order.checked_until + 1, now
                sym = self.market.get(order.symbol)
                is_buy = order.side == "BUY"
                level = (self.market.ask_level(order.price) if is_buy
                         else self.market.bid_level(order.price))
                touched = sym.first_touch(start, now, level, from_above=is_buy)
                if touched is None:
                    continue
                qty = self._partial_qty(sym, order)
                self._fill(account, sym, order, qty, order.price, touched, maker=True)

    # ------------------------------------------------------------------ internals

    def _open_of(self, account: Account, symbol: str) -> list[Order]:
        return [o for (s, _), o in account.open_orders.items() if s == symbol]

    def _crossed(self, sym: ReplayedSymbol, is_buy: bool, limit: Decimal, now: int) -> bool:
        mid = sym.mid(now)
        if is_buy:
            return mid <= self.market.ask_level(limit)
        return mid >= self.market.bid_level(limit)

    def _check_funds(self, account: Account, sym: ReplayedSymbol, is_buy: bool, qty: Decimal,
                     price: Decimal, rests: bool) -> None:
        if is_buy:
            needed = q8(qty * price, ROUND_UP if rests else ROUND_HALF_UP)
            if account.free[sym.quote] < needed:
                raise errors.insufficient_balance()
        elif account.free[sym.base] < qty:
            raise errors.insufficient_balance()

    def _partial_qty(self, sym: ReplayedSymbol, order: Order) -> Decimal:
        remaining = order.orig_qty - order.executed_qty
        if self.partial_fill_ratio >= 1:
            return remaining
        chunk = sym.filters.floor_to_step(order.orig_qty * self.partial_fill_ratio)
        chunk = max(chunk, sym.filters.step_size)
        if remaining - chunk < sym.filters.min_qty:
            return remaining
        return chunk

    def _fill(self, account: Account, sym: ReplayedSymbol, order: Order, qty: Decimal,
              price: Decimal, when: int, *, maker: bool) -> Trade:
        quote = q8(qty * price)
        fee_rate = self.maker_fee if maker else self.taker_fee
        last = order.executed_qty + qty == order.orig_qty
        if order.side == "BUY":
            if order.locked > 0:
                share = q8(qty * order.price, ROUND_UP)
                release = order.locked if last else min(order.locked, share)
                order.locked -= release
                account.locked[sym.quote] -= release
                account.free[sym.quote] += release - quote
            else:
                account.free[sym.quote] -= quote
            commission, commission_asset = q8(qty * fee_rate, ROUND_UP), sym.base
            account.free[sym.base] += qty - commission
        else:
            if order.locked > 0:
                order.locked -= qty
                account.locked[sym.base] -= qty
            else:
                account.free[sym.base] -= qty
            commission, commission_asset = q8(quote * fee_rate, ROUND_UP), sym.quote
            account.free[sym.quote] += quote - commission
        order.executed_qty += qty
        order.cumm_quote_qty += quote
        order.status = "FILLED" if last else "PARTIALLY_FILLED"
        order.update_time = max(order.update_time, when)
        if last:
            account.open_orders.pop((order.symbol, order.order_id), None)
        trade = Trade(
            id=self.next_trade_id[sym.id],
            symbol=sym.id,
            order_id=order.order_id,
            price=price,
            qty=qty,
            quote_qty=quote,
            commission=commission,
            commission_asset=commission_asset,
            time=when,
            is_buyer=order.side == "BUY",
            is_maker=maker,
        )
        self.next_trade_id[sym.id] += 1
        account.trades[sym.id].append(trade)
        account.update_time = max(account.update_time, when)
        return trade
