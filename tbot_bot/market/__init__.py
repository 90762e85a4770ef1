"""Market data: exchange calendar, bars and quotes, replay data sets."""
