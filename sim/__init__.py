"""A simulated TWS / IB Gateway that speaks the real socket protocol; the ground every test stands on."""
