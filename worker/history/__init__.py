"""Historical bars: upstream historical requests, answers without the forming bar (coalesced, cached)."""
