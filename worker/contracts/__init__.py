"""Contracts: resolving a request to one TWS contract (cached, "not found" remembered), and its trading sessions."""
