"""Live bars pushed over Server-Sent Events: GET /api/v1/bars/stream.

One SUB socket per HTTP worker process receives the TWS worker's events (shared/streams.py) and fans them out to the
process's stream clients (fanout.py); each client resumes exactly from its last bar (receiver.py) and has a bounded
buffer of its own (client_buffer.py), so a slow client never slows the others. The package imports nothing at import
time: app/__init__.py registers `blueprint.streams`.
"""
