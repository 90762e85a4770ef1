"""DDL of the four core databases, read from the installed package (never from the runtime home)."""
