"""Contracts: resolving a request to one TWS contract (cached, "not found" remembered), its trading sessions, and the
look-ups GET /api/v1/contracts (every match) and /api/v1/contracts/search (reqMatchingSymbols) answer."""
