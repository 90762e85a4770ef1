"""Typed, validated `.env_bot` settings (trading spec §12, web_runtime §6.1): the public API.

Flow: dotenv or JSON text -> `dict[str, str]` -> `validate_settings` -> frozen `Settings`. Every
problem is collected and raised together in one `ConfigError`, each naming key, value and
expectation. Removed keys are errors on save and on load; unknown keys are errors on save
(`strict=True`) and warnings on load. The parts, each small enough to read in one go:
`settings_kinds` (value types), `settings_catalogue` (one row per key), `settings_model` (the
frozen `Settings`), `settings_rules` (the few cross-field rules) and this module (reading,
validating, records and the generated `.env_bot.example`). Import from here.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError

from tbot_bot.config.fileio import atomic_write_text
from tbot_bot.config.path_resolver import CHECKOUT_ROOT
from tbot_bot.config.settings_catalogue import (
    BROKER_NAMES,
    CATALOGUE,
    DEPRECATED_KEYS,
    KEY_ALIASES,
    KEYS,
    SECTIONS,
    KeySpec,
)
from tbot_bot.config.settings_model import Settings
from tbot_bot.config.settings_rules import (
    CROSS_FIELD_RULES,
    TRADE_CONFIRMATION_MESSAGE,
    Findings,
    derived_preview_warnings,
    show,
)
from tbot_bot.errors import ConfigError, LogicError

__all__ = [
    "BROKER_NAMES",
    "CATALOGUE",
    "DEPRECATED_KEYS",
    "KEYS",
    "KEY_ALIASES",
    "TRADE_CONFIRMATION_MESSAGE",
    "KeySpec",
    "Settings",
    "ValidatedSettings",
    "default_settings_record",
    "deprecated_key_message",
    "derived_preview_warnings",
    "load_settings_file",
    "parse_env_text",
    "render_env_example",
    "settings_to_record",
    "validate_settings",
    "write_env_example",
]

logger = logging.getLogger(__name__)

ENV_EXAMPLE_PATH = CHECKOUT_ROOT / ".env_bot.example"
_KEY_TEXT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INLINE_COMMENT = re.compile(r"(^|\s)#.*$")
_CREDENTIAL_HINT = re.compile(r"KEY|SECRET|PASS|TOKEN|USER", re.IGNORECASE)


@dataclass(frozen=True)
class ValidatedSettings:
    """A validated settings object, the warnings found, and its canonical string record."""

    settings: Settings
    warnings: tuple[str, ...]
    normalized: dict[str, str]


# -- reading text ---------------------------------------------------------------------------------
def parse_env_text(text: str, source: str = "<text>") -> dict[str, str]:
    """Read dotenv-style `KEY=VALUE` lines into a dict of raw strings.

    Blank lines and full-line `#` comments are skipped, a leading `export ` is allowed, an inline
    ` # comment` is stripped and one pair of surrounding quotes is removed. Malformed and repeated
    lines are reported together in one `ConfigError` naming `source` and the line number; the line
    itself is never echoed (it might hold a credential typed into the wrong file).
    """
    record: dict[str, str] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            key, value = _parse_line(stripped)
        except ValueError as exc:
            problems.append(f"{source}:{number}: {exc}")
            continue
        if key in first_line:
            problems.append(f"{source}:{number}: {key} repeats line {first_line[key]}")
            continue
        first_line[key] = number
        record[key] = value
    if problems:
        raise ConfigError(f"cannot read {source}: " + "; ".join(problems), problems)
    return record


def _parse_line(line: str) -> tuple[str, str]:
    if line.startswith("export "):
        line = line[len("export ") :].lstrip()
    key, separator, rest = line.partition("=")
    key = key.strip()
    if not separator or not _KEY_TEXT.fullmatch(key):
        raise ValueError("expected KEY=VALUE with a key of letters, digits and '_'")
    rest = rest.strip()
    if rest[:1] not in {'"', "'"}:
        return key, _strip_comment(rest)
    end = rest.find(rest[0], 1)
    if end < 0:
        raise ValueError(f"{key}: unterminated {rest[0]} quote")
    tail = rest[end + 1 :].strip()
    if tail and not tail.startswith("#"):
        raise ValueError(f"{key}: unexpected text after the closing quote")
    return key, rest[1:end]


def _strip_comment(value: str) -> str:
    return _INLINE_COMMENT.sub("", value.strip()).strip()


def load_settings_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a `.env_bot` text file or a JSON object file (`*.json` or text starting with `{`)."""
    file = Path(path)
    try:
        content = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"settings file {file} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read settings file {file}: {type(exc).__name__}") from None
    if file.suffix.lower() == ".json" or content.lstrip().startswith("{"):
        return _json_record(content, str(file))
    return parse_env_text(content, str(file))


def _json_record(content: str, source: str) -> dict[str, str]:
    try:
        # Decimal keeps a JSON number such as 0.02 exact; a float never enters the settings.
        data = json.loads(content, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object of KEY: value strings")
    record: dict[str, str] = {}
    problems: list[str] = []
    for key, value in data.items():
        if isinstance(value, bool):
            record[key] = "true" if value else "false"
        elif isinstance(value, str | int):
            record[key] = str(value)
        elif isinstance(value, Decimal):
            record[key] = format(value, "f")
        elif value is None:
            record[key] = ""
        else:
            problems.append(f"{source}: {key} must be a string, got a JSON {type(value).__name__}")
    if problems:
        raise ConfigError(f"cannot read {source}: " + "; ".join(problems), problems)
    return record


# -- validation -----------------------------------------------------------------------------------
def deprecated_key_message(key: str) -> str:
    """The trading spec §12.4 message for a removed key."""
    return f"'{key}' is not supported: {DEPRECATED_KEYS[key]}. Remove it from .env_bot."


def validate_settings(raw: Mapping[str, str], *, strict: bool) -> ValidatedSettings:
    """Validate a raw record into a frozen `Settings`; every problem is reported together.

    `strict=True` (config validate / config set / UI save) makes unknown keys errors;
    `strict=False` (load at runtime) makes them warnings naming the key. Removed keys (§12.4) are
    errors in both modes; the two aliases warn and map onto their current key.
    """
    findings = Findings()
    texts = _collect_texts(raw, strict, findings)
    values = _parse_values(texts, findings)
    for rule in CROSS_FIELD_RULES:
        rule(values, findings)
    if findings.errors:
        count = len(findings.errors)
        summary = f"invalid .env_bot settings ({count} problem{'s' if count > 1 else ''}): "
        raise ConfigError(summary + "; ".join(findings.errors), findings.errors)
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:  # the catalogue and the model disagree: a bug, not bad input
        raise LogicError(f"settings catalogue and Settings model disagree: {exc}") from exc
    for warning in findings.warnings:
        logger.warning("settings: %s", warning)
    return ValidatedSettings(settings, tuple(findings.warnings), settings_to_record(settings))


def _collect_texts(
    raw: Mapping[str, str], strict: bool, findings: Findings
) -> dict[str, str | None]:
    """Clean every value, sort keys into known, removed, alias and unknown.

    A known key whose value is already reported (not a string) maps to None, so the per-key pass
    neither parses it nor calls it missing.
    """
    texts: dict[str, str | None] = {}
    aliases: dict[str, str] = {}
    for raw_key, raw_value in raw.items():
        key = str(raw_key).strip()
        if not isinstance(raw_value, str):
            findings.error(f"{key}: expected a string value, got {type(raw_value).__name__}")
            texts[key] = None
        elif key in DEPRECATED_KEYS:
            findings.error(deprecated_key_message(key))
        elif key in KEY_ALIASES:
            aliases[key] = _strip_comment(raw_value)
        elif key in KEYS:
            texts[key] = _strip_comment(raw_value)
        else:
            _unknown_key(key, strict, findings)
    for alias, value in aliases.items():
        _apply_alias(alias, value, texts, findings)
    return texts


def _unknown_key(key: str, strict: bool, findings: Findings) -> None:
    # The value is never shown: an unknown key may be a credential pasted into the wrong file.
    text = f"unknown key {key!r}"
    guess = difflib.get_close_matches(key.upper(), list(KEYS), n=1)
    if guess:
        text += f" (did you mean {guess[0]}?)"
    if _CREDENTIAL_HINT.search(key):
        text += "; credentials never belong in .env_bot, they have their own encrypted files"
    if strict:
        findings.error(text + ": remove it or correct its name")
    else:
        findings.warn(text + ": ignored")


def _apply_alias(alias: str, value: str, texts: dict[str, str | None], findings: Findings) -> None:
    target, why = KEY_ALIASES[alias]
    kind = KEYS[target].kind
    findings.warn(f"'{alias}' is deprecated ({why}): its value is used for {target}; rename it")
    try:
        parsed = kind.parse(value)
    except ValueError as exc:
        findings.error(f"{alias} (alias of {target})={show(value)}: expected {exc}")
        return
    if target not in texts:
        texts[target] = kind.render(parsed)
        return
    given = texts[target]
    try:
        current = None if given is None else kind.parse(given)
    except ValueError:
        return  # the per-key pass reports the target's own problem
    if given is not None and current != parsed:
        findings.error(
            f"{alias}={show(value)} conflicts with {target}={show(given)}: "
            f"expected only {target} (remove the alias)"
        )


def _parse_values(texts: Mapping[str, str | None], findings: Findings) -> dict[str, object]:
    """Parse every catalogue key: given text, else the default; required keys must be given."""
    values: dict[str, object] = {}
    for spec in CATALOGUE:
        if spec.name in texts and texts[spec.name] is None:
            continue  # present but already reported
        text = texts.get(spec.name)
        if text is None and spec.required:
            findings.error(
                f"{spec.name} is required but missing: expected {spec.type_label} {spec.range} "
                f"(e.g. {spec.default})"
            )
            continue
        if text is None:
            text = spec.default or ""
        if text == "" and spec.optional:
            values[spec.name] = None
            continue
        try:
            values[spec.name] = spec.kind.parse(text)
        except ValueError as exc:
            findings.error(f"{spec.name}={show(text)}: expected {exc}")
    return values


# -- records and the example file -----------------------------------------------------------------
def default_settings_record(broker_name: str = "ALPACA") -> dict[str, str]:
    """A complete, valid `.env_bot` record of defaults and examples (used by provisioning).

    Optional keys that are unset by default appear with an empty value.
    """
    kind = KEYS["BROKER_NAME"].kind
    try:
        broker = kind.render(kind.parse(broker_name.strip()))
    except ValueError as exc:
        raise ConfigError(f"BROKER_NAME={show(broker_name)}: expected {exc}") from None
    record = {spec.name: spec.default or "" for spec in CATALOGUE}
    record["BROKER_NAME"] = broker
    return record


def settings_to_record(settings: Settings) -> dict[str, str]:
    """Canonical strings of every key; `validate_settings` of this record gives `settings` back."""
    record: dict[str, str] = {}
    for spec in CATALOGUE:
        value = getattr(settings, spec.name)
        record[spec.name] = "" if value is None else spec.kind.render(value)
    return record


_EXAMPLE_HEADER = """\
# .env_bot reference: every key of trading spec §12 with its type, range, unit and default.
# GENERATED by tbot_bot.config.settings_schema.render_env_example(); do not edit by hand.
#
# At runtime the settings live encrypted in <home>/tbot_bot/storage/secrets/.env_bot.enc (key
# storage/keys/env.key) as a JSON object of strings; this file is a readable template.
# Whitespace and inline " # comments" are stripped; enums and booleans are case-insensitive and
# stored canonically; lists are comma-separated; times are HH:MM[:SS]. A "fraction" is a share
# (0.02 = 2 %), a "whole %" a percent number (66 = 66 %); numbers are exact decimals.
# *_LOCAL times are exchange time (America/New_York). Required keys must be present (the value
# shown is an example); optional keys may stay empty. Unknown keys fail `tbot config validate`
# and the removed keys listed at the end always fail. No credentials belong here: broker, SMTP
# and screener credentials have their own encrypted files."""


def render_env_example() -> str:
    """The text of `.env_bot.example`: every key documented, grouped by spec section."""
    lines = _EXAMPLE_HEADER.splitlines()
    for section, title in SECTIONS.items():
        lines += ["", "# " + "=" * 78, f"# {section} {title}", "# " + "=" * 78]
        for spec in CATALOGUE:
            if spec.section == section:
                lines += _example_entry(spec)
    lines += [
        "",
        "# " + "=" * 78,
        "# 12.4 Removed keys: each one present is an error",
        "# " + "=" * 78,
    ]
    for key, why in DEPRECATED_KEYS.items():
        lines += _comment(f"{key}: {why}")
    for alias, (target, why) in KEY_ALIASES.items():
        lines += _comment(f"{alias}: deprecated alias of {target} ({why}); warns and maps")
    return "\n".join(lines) + "\n"


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=98, initial_indent="# ", subsequent_indent="#   ")


def _example_entry(spec: KeySpec) -> list[str]:
    facts = [f"type: {spec.type_label}", f"range: {spec.range}"]
    if spec.unit:
        facts.append(f"unit: {spec.unit}")
    if spec.required:
        facts.append("required (value is an example)")
    elif spec.optional:
        facts.append("optional, unset by default")
    else:
        facts.append(f"default: {spec.default or '(empty)'}")
    assignment = f"# {spec.name}=" if spec.optional else f"{spec.name}={spec.default}"
    return ["", *_comment(spec.meaning), *_comment("; ".join(facts)), assignment]


def write_env_example(path: Path = ENV_EXAMPLE_PATH) -> None:
    """Regenerate `.env_bot.example` (a readable, non-secret template: mode 0644)."""
    atomic_write_text(path, render_env_example(), mode=0o644)
