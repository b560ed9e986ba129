"""Live series: keepUpToDate subscriptions and the window of their duration."""
