"""`python -m clients.fill`: ask a running bridge to fill a range of bars for a list of symbols, with a progress
bar per symbol until its job is done; Ctrl-C cancels the jobs. See README, "Long ranges and jobs"."""
