"""The web's own helpers: auth, sessions, CSRF, rate limits, request guard, runtime-file readers."""
