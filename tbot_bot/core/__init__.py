"""The four system databases of the web UI (web_runtime §5): DDL, init modules, verification."""
