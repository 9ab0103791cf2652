"""The organisation and contact directory: site/data/units.yaml and officials.yaml.

YAML rather than CSV, because the clerk's data has long texts of several paragraphs (a
unit's functions and tasks), Vietnamese and English side by side, and telephone numbers
with leading zeros: a spreadsheet round trip through CSV loses the zeros, the line breaks
and (with the wrong code page) the Vietnamese letters; a YAML file is plain UTF-8 text
edited in any editor, one `key: value` per line, and a mistake is reported on its line.
Values are read as the text written (a phone number stays "0200 ..."), never as numbers.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from .agency import _EMAIL, _PHONE, OFFICIALS_FILE, UNITS_FILE, Official, Unit
from .errors import Problem
from .slugs import is_valid_slug

UNIT_FIELDS = (
    "id",
    "name",
    "name_en",
    "head",
    "address",
    "address_en",
    "functions",
    "functions_en",
)
OFFICIAL_FIELDS = ("name", "position", "position_en", "unit", "phone", "email")
OPTIONAL_OFFICIAL_FIELDS = ("fax",)


def _entries(
    file: str, raw: bytes, problems: list[Problem]
) -> list[tuple[int, dict[str, tuple[str, int]]]]:
    """The file's list of entries: (line, {key: (text, line)}) each."""
    yaml: Any = importlib.import_module("yaml")  # no stubs; imported when there is data

    try:
        root = yaml.compose(
            raw.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        problems.append(
            Problem(file, None if line is None else line + 1, None, f"not valid YAML: {exc}", None)
        )
        return []
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        problems.append(
            Problem(file, 1, None, "must be a list of entries", "start each entry with '- '")
        )
        return []
    entries = []
    for node in root.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            problems.append(Problem(file, line, None, "an entry must be key: value lines", None))
            continue
        values: dict[str, tuple[str, int]] = {}
        for key, value in node.value:
            if not isinstance(value, yaml.ScalarNode):
                message = f"{key.value} must be text"
                problems.append(
                    Problem(file, value.start_mark.line + 1, str(key.value), message, None)
                )
                continue
            values[str(key.value)] = (str(value.value).strip(), key.start_mark.line + 1)
        entries.append((line, values))
    return entries


def _required(
    file: str,
    n: int,
    line: int,
    values: dict[str, tuple[str, int]],
    fields: tuple[str, ...],
    label: str,
    problems: list[Problem],
) -> dict[str, str] | None:
    """The entry's texts, or None after a problem for each missing required field."""
    known = set(fields) | set(OPTIONAL_OFFICIAL_FIELDS)
    for key, (_, at) in values.items():
        if key not in known:
            problems.append(
                Problem(
                    file,
                    at,
                    key,
                    f"row {n}{label}: unknown field",
                    f"known: {', '.join(sorted(known))}",
                )
            )
    missing = [f for f in fields if not values.get(f, ("", 0))[0]]
    for f in missing:
        hint = f"add a line '{f}: ...' to this entry"
        problems.append(Problem(file, line, f, f"row {n}{label}: {f} is missing", hint))
    return None if missing else {k: v for k, (v, _) in values.items()}


def load_directory(raws: dict[str, bytes]) -> tuple[list[Unit], list[Official], list[Problem]]:
    """Units and officials, checked: every problem names the file, the row and the line."""
    problems: list[Problem] = []
    units: list[Unit] = []
    for n, (line, values) in enumerate(
        _entries(UNITS_FILE, raws.get(UNITS_FILE, b""), problems), 1
    ):
        label = f" ({values['name'][0]})" if "name" in values else ""
        v = _required(UNITS_FILE, n, line, values, UNIT_FIELDS, label, problems)
        if v is None:
            continue
        if not is_valid_slug(v["id"]) or any(u.id == v["id"] for u in units):
            problems.append(
                Problem(
                    UNITS_FILE,
                    values["id"][1],
                    "id",
                    f"row {n}{label}: id {v['id']!r} is not a new lowercase-hyphen id",
                    None,
                )
            )
            continue
        units.append(
            Unit(v["id"], _pair(v, "name"), _pair(v, "functions"), _pair(v, "address"), v["head"])
        )
    unit_ids = {u.id for u in units}
    officials: list[Official] = []
    for n, (line, values) in enumerate(
        _entries(OFFICIALS_FILE, raws.get(OFFICIALS_FILE, b""), problems), 1
    ):
        label = f" ({values['name'][0]})" if "name" in values else ""
        v = _required(OFFICIALS_FILE, n, line, values, OFFICIAL_FIELDS, label, problems)
        if v is None:
            continue
        bad = _check_official(v, unit_ids)
        for key, message in bad:
            problems.append(
                Problem(OFFICIALS_FILE, values[key][1], key, f"row {n}{label}: {message}", None)
            )
        if not bad:
            officials.append(
                Official(
                    v["name"],
                    _pair(v, "position"),
                    v["unit"],
                    v["phone"],
                    v["email"],
                    v.get("fax", ""),
                )
            )
    return units, officials, problems


def _pair(v: dict[str, str], key: str) -> dict[str, str]:
    return {"vi": v[key], "en": v[f"{key}_en"]}


def _check_official(v: dict[str, str], unit_ids: set[str]) -> list[tuple[str, str]]:
    bad = []
    if v["unit"] not in unit_ids:
        bad.append(("unit", f"unknown unit {v['unit']!r} (not an id in units.yaml)"))
    if not _EMAIL.match(v["email"]):
        bad.append(("email", f"{v['email']!r} is not an e-mail address"))
    for key in ("phone", "fax"):
        if v.get(key) and not _PHONE.match(v[key]):
            bad.append((key, f"{v[key]!r} is not a telephone number"))
    return bad


def tel_href(number: str) -> str:
    """tel:+842003811001 for '0200 3811 001' (Vietnam's country code, digits only)."""
    digits = re.sub(r"[^0-9+]", "", number)
    if digits.startswith("0"):
        digits = "+84" + digits[1:]
    return "tel:" + digits


def directory_context(agency: Any, lang: str) -> dict[str, Any]:
    """The units, each with its officials, as the templates show them."""
    return {
        "units": [
            {
                "id": u.id,
                "name": u.name[lang],
                "head": u.head,
                "address": u.address[lang],
                "functions": [line for line in u.functions[lang].splitlines() if line.strip()],
                "officials": [
                    {
                        "name": o.name,
                        "position": o.position[lang],
                        "phone": o.phone,
                        "tel": tel_href(o.phone),
                        "fax": o.fax,
                        "email": o.email,
                    }
                    for o in agency.of_unit(u.id)
                ],
            }
            for u in agency.units
        ]
    }
