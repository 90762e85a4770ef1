"""Init modules of the core databases (called by the web bootstrap and `tbot demo`) and verify."""
