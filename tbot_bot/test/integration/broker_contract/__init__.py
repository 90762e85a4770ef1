"""Broker contract suite: the same cases run against every adapter's fake venue and the SIM."""
