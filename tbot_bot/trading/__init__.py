"""Trading: session runner, risk gate, sizing, trailing stops, kill switch, order journal."""
