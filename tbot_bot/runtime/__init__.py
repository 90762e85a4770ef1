"""Runtime: CLI entry points, provisioning, supervisor, bot state, control flags, status."""
