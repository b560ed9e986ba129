"""TWS's answers for an account with no positions, orders or executions: the end marker of each list, nothing else.

Client libraries ask for these at start-up and wait for the end (ib_async waits up to its connect timeout for each),
so an unanswered one makes them hang at connect. Cancels and unsubscribes get no answer, as in TWS.
"""

from __future__ import annotations

from sim.account_messages import (
    AccountRequest,
    RequestAccountSummary,
    RequestAccountUpdates,
    RequestAccountUpdatesMulti,
    RequestAllOpenOrders,
    RequestAutoOpenOrders,
    RequestCompletedOrders,
    RequestExecutions,
    RequestManagedAccounts,
    RequestOpenOrders,
    RequestPositions,
    RequestPositionsMulti,
)
from sim.codec import ReplyEncoder


def answer(request: AccountRequest, enc: ReplyEncoder, accounts: str) -> list[bytes]:
    """The frames TWS sends back for `request`; `accounts` is the managed accounts list ("DU1234567")."""
    match request:
        case RequestPositions():
            return [enc.end_marker("position_end")]
        case RequestOpenOrders() | RequestAllOpenOrders() | RequestAutoOpenOrders(auto_bind=True):
            return [enc.end_marker("open_order_end")]
        case RequestCompletedOrders():
            return [enc.end_marker("completed_orders_end")]
        case RequestExecutions(req_id=req_id):
            return [enc.end_marker("execution_details_end", req_id)]
        case RequestAccountUpdates(subscribe=True, account=account):
            # an empty code means the (single) managed account, which TWS names in the end marker
            return [enc.end_marker("account_download_end", account or accounts.split(",")[0])]
        case RequestAccountSummary(req_id=req_id):
            return [enc.end_marker("account_summary_end", req_id)]
        case RequestManagedAccounts():
            return [enc.managed_accounts(accounts)]
        case RequestPositionsMulti(req_id=req_id):
            return [enc.end_marker("position_multi_end", req_id)]
        case RequestAccountUpdatesMulti(req_id=req_id):
            return [enc.end_marker("account_update_multi_end", req_id)]
        case _:  # cancels, unsubscribing account updates, reqAutoOpenOrders(false)
            return []
