"""One blueprint per page group (STYLE §2.13); `*_web.py` names follow the seed."""
