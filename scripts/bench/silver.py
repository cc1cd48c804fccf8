"""Reference port of silver-processing's transformation to Python (pandas + pyarrow).

FOR BENCHMARKING ONLY (`scripts/bench-lambdas.py`): the stage is the Rust crate
`lambdas/silver-processing`; this port exists so that its speed and memory can be compared with what the
original project's Python Lambdas would have cost. It follows `transform.rs` and `parquet_out.rs`: parse
the bronze JSON, check the shape of every game (the Rust side's serde types, their sequence form included),
quarantine copies of one game (identical copies: all but the first, as duplicates; copies that differ: every
one, as conflicting), flatten players and teams, convert minutes (`MM:SS`, `PT36M24S`, `PT36M24.00S`,
`PT1H2M`), apply every validation rule of `transform::game_rows` per game (vectorized over the day's rows;
quarantining a game that breaks any, each issue with the rule's `code`, classification and reason, in the
Rust order), sort the rows the same way and write zstd (level 3) Parquet with the same typed schemas. The
bench checks that both give equal tables on the same input and quarantine the same games with the same
classifications. Reasons are the Rust ones word for word; serde's schema messages are reproduced for the usual
cases (a missing field, a value of another type) and may differ in the rarer ones. Known differences, all in
documents the Rust stage refuses as a whole (the message fails): a number beyond f64's range or a string with an
unpaired surrogate escape (Python reads them), a document in UTF-16/32 (Python's json detects the encoding).

    python silver.py OUT PASSES FILE...

prints one JSON line like `bench_silver transform` (counts, quarantined games, time of every pass).
"""

import datetime as dt
import decimal
import json
import math
import os
import re
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from layout import STATS  # noqa: E402
STAT_KEYS = [k for k, _ in STATS]
COUNT_COLS = [c for _, c in STATS]
NSTATS = len(STATS)
PTS, FGM, FGA, TPM, TPA, FTM, FTA, OREB, DREB, REB = range(10)
# (made, attempted) pairs of `check_counts` that must hold made <= attempted (3PM <= FGM and 3PA <= FGA included).
PAIRS = [(FGM, FGA), (TPM, TPA), (FTM, FTA), (TPM, FGM), (TPA, FGA)]
# `team_checked_counts`: every count but points, against the players' sum; these may exceed it (team rebounds and
# turnovers credited to no player).
MAY_EXCEED = np.array([k in ("reboundsOffensive", "reboundsDefensive", "reboundsTotal", "turnovers")
                       for k in STAT_KEYS[1:]])
I32_MAX = 2**31 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U64_MAX = 2**64 - 1
PLAYER_MAX_POINTS = 100
TEAM_POINTS = (60, 200)
REGULATION_MINUTES = 48.0
OVERTIME_MINUTES = 5.0
MINUTES_ROUNDING_PER_PLAYER = 1.0 / 60.0

# Classifications, most fundamental first (as the Rust enum's order).
SCHEMA, DUPLICATE, CONSISTENCY, INVARIANT, RANGE = range(5)
CLASS_NAMES = ["schema", "duplicate", "consistency", "invariant", "range"]

# Where an issue stands in the Rust `game_rows`' order (issues are sorted by it): the game's own rules
# (GAME, 0, 0, 0, 0, rule), then per team (home 0, away 1): TEAM_RULES (its points, its counts), PLAYERS (per
# player, in the team's order: duplicate, counts, points, minutes format, minutes, stats without minutes),
# then the team against its players' sums.
GAME, TEAM = 0, 1
G_EMPTY_ID, G_SAME_TEAMS, G_TIE, G_MINUTES_FORMAT, G_MINUTES_LENGTH, G_MINUTES_DIFFER = 0, 1, 2, 3, 5, 7
T_POINTS, T_COUNTS, T_PLAYERS, T_POINTS_SUM, T_TOTAL, T_MINUTES_SUM = range(6)
P_DUPLICATE, P_COUNTS, P_POINTS, P_MINUTES_FORMAT, P_MINUTES, P_WITHOUT_MINUTES = range(6)

PLAYER_SCHEMA = pa.schema(
    [pa.field("game_date", pa.date32(), False), pa.field("season", pa.string(), False),
     pa.field("game_id", pa.string(), False), pa.field("team_id", pa.int64(), False),
     pa.field("team_tricode", pa.string(), False), pa.field("opponent_team_id", pa.int64(), False),
     pa.field("is_home", pa.bool_(), False), pa.field("player_id", pa.int64(), False),
     pa.field("player_name", pa.string(), False), pa.field("first_name", pa.string(), False),
     pa.field("family_name", pa.string(), False), pa.field("position", pa.string(), True),
     pa.field("starter", pa.bool_(), False), pa.field("played", pa.bool_(), False),
     pa.field("minutes", pa.float64(), False)]
    + [pa.field(c, pa.int32(), False) for c in COUNT_COLS]
    + [pa.field("plus_minus", pa.float64(), False)])
TEAM_SCHEMA = pa.schema(
    [pa.field("game_date", pa.date32(), False), pa.field("season", pa.string(), False),
     pa.field("game_id", pa.string(), False), pa.field("team_id", pa.int64(), False),
     pa.field("team_city", pa.string(), False), pa.field("team_name", pa.string(), False),
     pa.field("team_tricode", pa.string(), False), pa.field("team_slug", pa.string(), False),
     pa.field("is_home", pa.bool_(), False), pa.field("opponent_team_id", pa.int64(), False),
     pa.field("opponent_points", pa.int32(), False), pa.field("win", pa.bool_(), False),
     pa.field("minutes", pa.float64(), False)]
    + [pa.field(c, pa.int32(), False) for c in COUNT_COLS]
    + [pa.field("plus_minus", pa.float64(), False)])

# What Rust's `str::trim` removes (Unicode White_Space; Python's `str.strip()` also removes U+001C..U+001F).
RUST_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
          "\u2028\u2029\u202f\u205f\u3000"


def season_of(date):
    start = date.year if date.month >= 7 else date.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


# --- reading the JSON as serde_json does ---------------------------------------------------------------------

def _json_int(text):
    """An integer literal as serde_json reads it: `-0` and integers beyond u64/i64 are floats (beyond f64: an
    error, as serde_json's "number out of range")."""
    if text == "-0":
        return -0.0
    v = int(text)
    return v if I64_MIN <= v <= U64_MAX else _json_float(text)


def _json_float(text):
    v = float(text)
    if math.isinf(v):
        raise ValueError("bronze document is not valid JSON (number out of range)")
    return v


def _no_constant(name):
    raise ValueError(f"bronze document is not valid JSON ({name})")


def loads_as_serde(data):
    """The document with numbers as serde_json reads them (slower: a Python call per number)."""
    return json.loads(data, parse_int=_json_int, parse_float=_json_float, parse_constant=_no_constant)


# A `-0` literal (or a string holding one), which serde_json reads as a float: then the document is read with
# `loads_as_serde`. Integers beyond u64/i64 are refused in counts and ids as serde does (with another message);
# they and floats beyond f64's range matter elsewhere only where copies of a game are compared (read again then),
# except a number beyond f64's range, which serde_json refuses in the whole document (Python reads infinity).
_NEGATIVE_ZERO = re.compile(rb"-0(?![0-9.eE])")


def loads(data):
    if _NEGATIVE_ZERO.search(data):
        return loads_as_serde(data)
    return json.loads(data, parse_constant=_no_constant)


def _same(a, b):
    """`serde_json::Value` equality: numbers equal only as the same kind (1 != 1.0), booleans are not numbers."""
    ta, tb = type(a), type(b)
    if ta is not tb:
        return False
    if ta is dict:
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if ta is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


# --- minutes ---------------------------------------------------------------------------------------------------

# Numbers as Rust's `f64::from_str` and `u32::from_str` accept them (Python's float() also takes
# whitespace and underscores).
FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
UINT = re.compile(r"\+?\d+")
_minutes_cache = {}


def _parse_minutes(text):
    text = text.strip(RUST_WS)
    if not text:
        return 0.0
    if text.startswith("PT"):
        rest = text[2:]
        if not rest:
            return None
        minutes = 0.0
        for unit, factor in (("H", 60.0), ("M", 1.0), ("S", 1.0 / 60.0)):
            i = rest.find(unit)
            if i >= 0:
                if not FLOAT.fullmatch(rest[:i]):
                    return None
                n = float(rest[:i])
                if not (math.isfinite(n) and n >= 0.0):
                    return None
                minutes += n * factor
                rest = rest[i + 1:]
        return minutes if not rest else None
    m, sep, s = text.partition(":")
    if not sep or not UINT.fullmatch(m) or int(m) > 2**32 - 1 or not FLOAT.fullmatch(s):
        return None
    s = float(s)
    if not (0.0 <= s < 60.0):
        return None
    return float(int(m)) + s / 60.0


def parse_minutes(text):
    """Minutes as a float, NaN if unreadable (`None` from `transform::parse_minutes`)."""
    try:
        return _minutes_cache[text]
    except KeyError:
        value = _parse_minutes(text)
        value = _minutes_cache[text] = np.nan if value is None else value
        return value


# --- the shape of a box score: the serde types of transform.rs ------------------------------------------------

class SchemaError(Exception):
    pass


class _Slow(Exception):
    """The fast path met something unusual: the general (serde-like) reading decides."""


# Field name, type, default (`...`: none, a missing field is an error), in declaration order.
STRUCTS = {
    "BoxScore": [("gameId", "string", ...), ("homeTeam", "Team", ...), ("awayTeam", "Team", ...)],
    "Team": [("teamId", "i64", ...), ("teamCity", "string", ...), ("teamName", "string", ...),
             ("teamTricode", "string", ...), ("teamSlug", "string", ""), ("players", "players", ...),
             ("statistics", "Statistics", ...)],
    "Player": [("personId", "i64", ...), ("firstName", "string", ...), ("familyName", "string", ...),
               ("position", "option", None), ("statistics", "Statistics", ...)],
    "Statistics": [("minutes", "option", None)] + [(k, "i64", ...) for k in STAT_KEYS]
    + [("plusMinusPoints", "f64", 0.0)],
}
EXPECTING = {"string": "a string", "option": "a string", "i64": "i64", "f64": "f64", "players": "a sequence"}


def _rust_str_debug(s):
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + out.replace("\t", "\\t").replace("\0", "\\0") + '"'


def _unexpected(v):
    """serde_json's `JsonUnexpected` of a value."""
    t = type(v)
    if v is None:
        return "null"
    if t is bool:
        return f"boolean `{'true' if v else 'false'}`"
    if t is int and I64_MIN <= v <= U64_MAX:
        return f"integer `{v}`"
    if t is int or t is float:  # serde_json reads integers beyond u64/i64 as floats
        return f"floating point `{float(v)!r}`"
    if t is str:
        return f"string {_rust_str_debug(v)}"
    return "sequence" if t is list else "map"


def _de(v, typ):
    """Deserializes `v` as the serde type `typ` (see STRUCTS) or raises SchemaError with serde's message."""
    if typ in STRUCTS:
        return _de_struct(v, typ)
    if typ == "option" and v is None:
        return None
    if typ in ("string", "option"):
        if type(v) is str:
            return v
    elif typ == "i64":
        if type(v) is int and I64_MIN <= v <= U64_MAX:
            if v > I64_MAX:
                raise SchemaError(f"invalid value: integer `{v}`, expected i64")
            return v
    elif typ == "f64":
        if type(v) is int or type(v) is float:
            return float(v)
    elif typ == "players":
        if type(v) is list:
            return [_de(p, "Player") for p in v]
    raise SchemaError(f"invalid type: {_unexpected(v)}, expected {EXPECTING[typ]}")


def _de_struct(v, name):
    """A derived `Deserialize` of a struct: from a map (unknown keys ignored, a missing field without default is
    an error) or from a sequence (the fields in declaration order, the trailing ones with a default optional)."""
    fields = STRUCTS[name]
    out = {}
    if type(v) is dict:
        types = {f: t for f, t, _ in fields}
        for key, value in v.items():
            if key in types:
                out[key] = _de(value, types[key])
        for f, _, default in fields:
            if f not in out:
                if default is ...:
                    raise SchemaError(f"missing field `{f}`")
                out[f] = default
    elif type(v) is list:
        expecting = f"struct {name} with {len(fields)} elements"
        for i, (f, t, default) in enumerate(fields):
            if i < len(v):
                out[f] = _de(v[i], t)
            elif default is ...:
                raise SchemaError(f"invalid length {i}, expected {expecting}")
            else:
                out[f] = default
        if len(v) > len(fields):
            raise SchemaError(f"invalid length {len(v)}, expected fewer elements in array")
    else:
        raise SchemaError(f"invalid type: {_unexpected(v)}, expected struct {name}")
    if name == "Statistics":
        return [out[k] for k in STAT_KEYS], out["minutes"], out["plusMinusPoints"]
    if name == "Player":
        return out["personId"], out["firstName"], out["familyName"], out["position"], out["statistics"]
    if name == "Team":
        return ((out["teamId"], out["teamCity"], out["teamName"], out["teamTricode"], out["teamSlug"]),
                out["players"], out["statistics"])
    return out["gameId"], out["homeTeam"], out["awayTeam"]


_INT = {int}


def _stats_fast(s):
    counts = [s[k] for k in STAT_KEYS]
    if set(map(type, counts)) != _INT or max(counts) > I64_MAX or min(counts) < I64_MIN:
        raise _Slow
    minutes = s.get("minutes")
    if minutes is not None and type(minutes) is not str:
        raise _Slow
    pm = s.get("plusMinusPoints", 0.0)
    if type(pm) is not float:
        if type(pm) is not int:
            raise _Slow
        pm = float(pm)
    return counts, minutes, pm


def _team_fast(t):
    team_id, city, name, tricode, slug = t["teamId"], t["teamCity"], t["teamName"], t["teamTricode"], \
        t.get("teamSlug", "")
    if type(team_id) is not int or not I64_MIN <= team_id <= I64_MAX or type(city) is not str or type(name) is not str \
            or type(tricode) is not str or type(slug) is not str:
        raise _Slow
    players = t["players"]
    if type(players) is not list:
        raise _Slow
    out = []
    for p in players:
        person_id, first, family, position = p["personId"], p["firstName"], p["familyName"], p.get("position")
        if type(person_id) is not int or not I64_MIN <= person_id <= I64_MAX or type(first) is not str \
                or type(family) is not str or (position is not None and type(position) is not str):
            raise _Slow
        out.append((person_id, first, family, position, _stats_fast(p["statistics"])))
    return (team_id, city, name, tricode, slug), out, _stats_fast(t["statistics"])


def box_score(inner):
    """(game id, home, away) of a box score, each team `((id, city, name, tricode, slug), [player], stats)`, a
    player `(id, first name, family name, position, stats)`, stats `([count], minutes text or None,
    plus-minus)`; SchemaError where serde refuses it."""
    try:
        game_id = inner["gameId"]
        if type(game_id) is not str:
            raise _Slow
        return game_id, _team_fast(inner["homeTeam"]), _team_fast(inner["awayTeam"])
    except (_Slow, KeyError, TypeError, AttributeError):
        return _de_struct(inner, "BoxScore")


def box_score_of(record):
    """The box score of a game record: the raw API response (`{"boxScoreTraditional": {...}}`) or itself."""
    return record.get("boxScoreTraditional", record) if type(record) is dict else record


def game_id_of(record):
    inner = box_score_of(record)
    gid = inner.get("gameId") if type(inner) is dict else None
    return gid if type(gid) is str else None


# --- the rules -------------------------------------------------------------------------------------------------

def _rust_f64(x):
    """An f64 as Rust's `Display` prints it (shortest round-trip digits, never an exponent; 48.0 -> `48`)."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = repr(x)
    if "e" in text:
        text = format(decimal.Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _team_who(tricode, team_id):
    return f"team {tricode} ({team_id})"


def _player_who(first, family, person_id, tricode):
    return f"player {first} {family} ({person_id}) of {tricode}"


def _count_mask(c):
    """Rows of a count matrix that break a rule of `check_counts` (exact: a row with a count outside 0..=i32::MAX
    is flagged by that alone, the others' sums fit in i64)."""
    bad = ((c < 0) | (c > I32_MAX)).any(axis=1)
    for a, b in PAIRS:
        bad |= c[:, a] > c[:, b]
    with np.errstate(over="ignore"):
        bad |= c[:, REB] != c[:, OREB] + c[:, DREB]
        bad |= c[:, PTS] != 2 * c[:, FGM] + c[:, TPM] + c[:, FTM]
    return bad


def _in_i64(v):
    return v if I64_MIN <= v <= I64_MAX else None


def check_counts(who, v, key, add):
    """The issues of `check_counts` for one statistics block (`v`: its counts as Python ints)."""
    for i, name in enumerate(STAT_KEYS):
        if v[i] < 0:
            add(key + (i,), "negative", INVARIANT, f"{who}: {name} is negative ({v[i]})")
        elif v[i] > I32_MAX:
            add(key + (i,), "too_large", RANGE, f"{who}: {name} is too large ({v[i]})")
    for j, (a, b) in enumerate(PAIRS):
        if v[a] > v[b]:
            add(key + (NSTATS + j,), "made_above_attempted", INVARIANT,
                f"{who}: {STAT_KEYS[a]} {v[a]} > {STAT_KEYS[b]} {v[b]}")
    if _in_i64(v[OREB] + v[DREB]) != v[REB]:
        add(key + (NSTATS + 5,), "rebounds_sum", INVARIANT,
            f"{who}: reboundsTotal {v[REB]} != reboundsOffensive {v[OREB]} + reboundsDefensive {v[DREB]}")
    expected = _in_i64(v[FGM] * 2)
    expected = None if expected is None else _in_i64(expected + v[TPM])
    expected = None if expected is None else _in_i64(expected + v[FTM])
    if expected != v[PTS]:
        shown = "out of range" if expected is None else expected
        add(key + (NSTATS + 6,), "points_formula", INVARIANT,
            f"{who}: points {v[PTS]} != 2 x FGM + 3PM + FTM = {shown}")


def game_length(team_minutes):
    """`transform::game_length`, vectorized: the game's length in minutes, NaN where no game has that length."""
    with np.errstate(invalid="ignore", over="ignore"):
        overtimes = (team_minutes / 5.0 - REGULATION_MINUTES) / OVERTIME_MINUTES
        rounded = np.round(overtimes)  # never a tie (.5) where it is used: within 1e-6 of an integer
        ok = (overtimes >= -1e-9) & (np.abs(overtimes - rounded) < 1e-6)
        return np.where(ok, REGULATION_MINUTES + OVERTIME_MINUTES * rounded, np.nan)


def _saturating_sum(values):
    total = 0
    for v in values:
        total = min(max(total + int(v), I64_MIN), I64_MAX)
    return total


def transform(data, key_date):
    """Bronze document bytes -> (season, games, player DataFrame, team DataFrame, quarantined list)."""
    doc = loads(data)
    if type(doc) is list and len(doc) == 2:  # serde's sequence form of `Document`
        doc = {"date": doc[0], "games": doc[1]}
    if type(doc) is not dict or type(doc.get("date")) is not str or type(doc.get("games")) is not list:
        raise ValueError('bronze document is not {"date": "YYYY-MM-DD", "games": [...]}')
    date = dt.datetime.strptime(doc["date"], "%Y-%m-%d").date()
    if date != key_date:
        raise ValueError(f"bronze document is for {date} but its key is for {key_date}")
    season = season_of(date)
    games = doc["games"]

    issues = {}  # game index -> [(order key, code, classification, reason)]

    def add_to(game):
        found = issues.setdefault(game, [])
        return lambda key, code, classification, reason: found.append((key, code, classification, reason))

    # Copies of one game: identical copies are one game (the first is kept), copies that differ are all quarantined.
    game_ids = [game_id_of(r) for r in games]
    copies = {}
    for index, gid in enumerate(game_ids):
        if gid is not None:
            copies.setdefault(gid, []).append(index)
    copied = {gid: at for gid, at in copies.items() if len(at) > 1}
    as_serde = games
    if copied:  # compared as serde_json's values (the same document read again, numbers as serde reads them)
        again = loads_as_serde(data)
        as_serde = again["games"] if type(again) is dict else again[1]
    conflicts = {gid: f"game {gid} appears at positions {', '.join(map(str, at))} of `games` with different contents"
                 for gid, at in copied.items() if any(not _same(as_serde[a], as_serde[b]) for a, b in zip(at, at[1:]))}

    # Flatten: one entry per game that has the right shape; shape errors and copies quarantine at once. Teams come
    # in (home, away) pairs; a team's players follow each other.
    seen = set()
    row_game_id = {}
    prow = {k: [] for k in ("team_id", "team_tricode", "opponent_team_id", "player_id", "first_name",
                            "family_name", "position", "minutes_text", "plus_minus")}
    pcounts = []
    trow = {k: [] for k in ("game", "team_id", "team_city", "team_name", "team_tricode", "team_slug",
                            "opponent_team_id", "minutes_text", "plus_minus")}
    tcounts = []
    nplayers = []  # per team
    for index, record in enumerate(games):
        try:
            game_id, home, away = box_score(box_score_of(record))
        except SchemaError as e:
            add_to(index)((GAME, 0, 0, 0, 0, 0), "schema", SCHEMA, str(e))
            continue
        if game_id in conflicts:
            add_to(index)((GAME, 0, 0, 0, 0, 0), "conflicting_copies", DUPLICATE, conflicts[game_id])
            continue
        if game_id in seen:
            add_to(index)((GAME, 0, 0, 0, 0, 0), "duplicate_game", DUPLICATE,
                          f"game {game_id} appears more than once (an identical copy is kept)")
            continue
        seen.add(game_id)
        row_game_id[index] = game_id
        if not game_id.strip(RUST_WS):
            add_to(index)((GAME, 0, 0, 0, 0, G_EMPTY_ID), "empty_game_id", SCHEMA, "gameId is empty")
        for (team, players, (counts, minutes, pm)), opponent in ((home, away), (away, home)):
            trow["game"].append(index)
            trow["team_id"].append(team[0])
            trow["team_city"].append(team[1])
            trow["team_name"].append(team[2])
            trow["team_tricode"].append(team[3])
            trow["team_slug"].append(team[4])
            trow["opponent_team_id"].append(opponent[0][0])
            trow["minutes_text"].append(minutes or "")
            trow["plus_minus"].append(pm)
            tcounts.append(counts)
            nplayers.append(len(players))
            for person_id, first, family, position, (pc, pmin, ppm) in players:
                prow["team_id"].append(team[0])
                prow["team_tricode"].append(team[3])
                prow["opponent_team_id"].append(opponent[0][0])
                prow["player_id"].append(person_id)
                prow["first_name"].append(first)
                prow["family_name"].append(family)
                prow["position"].append(position)
                prow["minutes_text"].append(pmin or "")
                prow["plus_minus"].append(ppm)
                pcounts.append(pc)

    # The day's rows as arrays (counts as int64: Python ints beyond i64 were refused above as serde does).
    tc = np.array(tcounts, dtype=np.int64).reshape(-1, NSTATS)
    pc = np.array(pcounts, dtype=np.int64).reshape(-1, NSTATS)
    tgame = np.array(trow["game"], dtype=np.int64)
    tid = np.array(trow["team_id"], dtype=np.int64)
    npl = np.array(nplayers, dtype=np.int64)
    pstart = np.concatenate(([0], np.cumsum(npl)[:-1])) if len(npl) else npl
    pteam = np.repeat(np.arange(len(npl)), npl)  # each player's team row
    pid = np.array(prow["player_id"], dtype=np.int64)
    # Unreadable minutes are an issue and count as 0.0 in the rules that follow (as `minutes_of`).
    tminutes = np.array([parse_minutes(x) for x in trow["minutes_text"]], dtype=np.float64)
    pminutes = np.array([parse_minutes(x) for x in prow["minutes_text"]], dtype=np.float64)
    t_unreadable, p_unreadable = np.isnan(tminutes), np.isnan(pminutes)
    tminutes[t_unreadable] = 0.0
    pminutes[p_unreadable] = 0.0

    # The game's rules (home rows at even positions, away rows at odd ones).
    h, a = slice(0, None, 2), slice(1, None, 2)
    same_teams = tid[h] == tid[a]
    tie = tc[h, PTS] == tc[a, PTS]
    lengths = game_length(tminutes)
    no_length = np.isnan(lengths)
    differ = ~no_length[h] & ~no_length[a] & (lengths[h] != lengths[a])
    with np.errstate(invalid="ignore"):
        length = np.where(differ, np.fmax(lengths[h], lengths[a]), np.where(no_length[h], lengths[a], lengths[h]))

    # Per team: the players' sums, in the players' order (floats add up as Rust's loop does; integer sums are
    # exact unless a count is beyond 2^32, then the team's sums are redone with Python ints, saturating as Rust's).
    sums = np.zeros_like(tc)
    minutes_sum = np.zeros(len(npl))
    for k in range(int(npl.max()) if len(npl) else 0):
        teams_k = np.flatnonzero(npl > k)
        rows = pstart[teams_k] + k
        minutes_sum[teams_k] += pminutes[rows]
        sums[teams_k] += pc[rows]
    huge = (np.abs(pc) > 2**32).any(axis=1) | (pc == np.iinfo(np.int64).min).any(axis=1)
    for t in np.unique(pteam[huge]):
        rows = pc[pstart[t]:pstart[t] + npl[t]]
        sums[t] = [_saturating_sum(rows[:, j]) for j in range(NSTATS)]

    # Flags of every rule, then the issues (and their reasons) of the flagged rows only.
    t_range = (tc[:, PTS] < TEAM_POINTS[0]) | (tc[:, PTS] > TEAM_POINTS[1])
    t_counts = _count_mask(tc)
    t_points_sum = sums[:, PTS] != tc[:, PTS]
    t_total = (tc[:, 1:] < sums[:, 1:]) | ((tc[:, 1:] > sums[:, 1:]) & ~MAY_EXCEED)
    with np.errstate(invalid="ignore"):
        t_minutes_sum = np.abs(tminutes - minutes_sum) > npl * MINUTES_ROUNDING_PER_PLAYER + 1e-9
    order = np.lexsort((pid, pteam))  # stable: a player's later appearances in the team are duplicates
    dup_sorted = (pteam[order][1:] == pteam[order][:-1]) & (pid[order][1:] == pid[order][:-1])
    p_duplicate = np.zeros(len(pid), dtype=bool)
    p_duplicate[order[1:][dup_sorted]] = True
    p_counts = _count_mask(pc)
    p_points = pc[:, PTS] > PLAYER_MAX_POINTS
    player_length = length[pteam // 2] if len(pteam) else np.zeros(0)
    with np.errstate(invalid="ignore"):
        p_minutes = pminutes > player_length + 1e-9
    p_without = (pminutes == 0.0) & ((pc[:, PTS] != 0) | (pc[:, FGA] != 0) | (pc[:, FTA] != 0))

    game_flags = same_teams | tie | differ | no_length[h] | no_length[a] | t_unreadable[h] | t_unreadable[a]
    team_flags = t_range | t_counts | t_points_sum | t_total.any(axis=1) | t_minutes_sum
    player_flags = p_duplicate | p_counts | p_points | p_unreadable | p_minutes | p_without
    if len(pteam):
        np.logical_or.at(team_flags, pteam, player_flags)
    game_flags |= team_flags[h] | team_flags[a]
    tricode, tmin_text = trow["team_tricode"], trow["minutes_text"]
    for g in np.flatnonzero(game_flags):
        add = add_to(int(tgame[2 * g]))
        home_t, away_t = 2 * g, 2 * g + 1
        if same_teams[g]:
            add((GAME, 0, 0, 0, 0, G_SAME_TEAMS), "same_teams", CONSISTENCY, f"home team = away team ({tid[home_t]})")
        if tie[g]:
            add((GAME, 0, 0, 0, 0, G_TIE), "tie", CONSISTENCY, f"tie at {tc[home_t, PTS]} points")
        for side, t in enumerate((home_t, away_t)):
            who = _team_who(tricode[t], tid[t])
            if t_unreadable[t]:
                add((GAME, 0, 0, 0, 0, G_MINUTES_FORMAT + side), "minutes_format", SCHEMA,
                    f"{who}: minutes `{tmin_text[t]}` are neither MM:SS nor PT#M#S")
            if no_length[t]:
                add((GAME, 0, 0, 0, 0, G_MINUTES_LENGTH + side), "team_minutes_length", CONSISTENCY,
                    f"{who}: minutes {tminutes[t]:.2f} are not 5 x a game's length (48 minutes plus 5 per overtime "
                    "period)")
        if differ[g]:
            add((GAME, 0, 0, 0, 0, G_MINUTES_DIFFER), "team_minutes_differ", CONSISTENCY,
                f"the home team's minutes give a {_rust_f64(lengths[home_t])}-minute game, the away team's a "
                f"{_rust_f64(lengths[away_t])}-minute game")
        for side, t in enumerate((home_t, away_t)):
            if not team_flags[t]:
                continue
            who = _team_who(tricode[t], tid[t])
            v = [int(x) for x in tc[t]]
            if t_range[t]:
                add((TEAM, side, T_POINTS, 0, 0, 0), "team_points", RANGE,
                    f"{who}: points {v[PTS]} outside {TEAM_POINTS[0]}..={TEAM_POINTS[1]}")
            if t_counts[t]:
                check_counts(who, v, (TEAM, side, T_COUNTS, 0, 0), add)
            for k in range(int(npl[t])):
                r = int(pstart[t]) + k
                if not player_flags[r]:
                    continue
                pwho = _player_who(prow["first_name"][r], prow["family_name"][r], pid[r], tricode[t])
                key = (TEAM, side, T_PLAYERS, k)
                pv = [int(x) for x in pc[r]]
                if p_duplicate[r]:
                    add(key + (P_DUPLICATE, 0), "duplicate_player", DUPLICATE, f"{pwho} appears twice")
                if p_counts[r]:
                    check_counts(pwho, pv, key + (P_COUNTS,), add)
                if p_points[r]:
                    add(key + (P_POINTS, 0), "player_points", RANGE, f"{pwho}: points {pv[PTS]} > {PLAYER_MAX_POINTS}")
                if p_unreadable[r]:
                    add(key + (P_MINUTES_FORMAT, 0), "minutes_format", SCHEMA,
                        f"{pwho}: minutes `{prow['minutes_text'][r]}` are neither MM:SS nor PT#M#S")
                if p_minutes[r]:
                    add(key + (P_MINUTES, 0), "player_minutes", RANGE,
                        f"{pwho}: minutes {pminutes[r]:.2f} > the game's {_rust_f64(player_length[r])} minutes")
                if p_without[r]:
                    add(key + (P_WITHOUT_MINUTES, 0), "stats_without_minutes", CONSISTENCY,
                        f"{pwho}: points {pv[PTS]}, field goal attempts {pv[FGA]}, free throw attempts {pv[FTA]} "
                        "with zero minutes")
            if t_points_sum[t]:
                add((TEAM, side, T_POINTS_SUM, 0, 0, 0), "points_sum", CONSISTENCY,
                    f"{who}: player points sum to {sums[t, PTS]}, team points are {v[PTS]}")
            for j in np.flatnonzero(t_total[t]):
                add((TEAM, side, T_TOTAL, 0, 0, int(j)), "team_total", CONSISTENCY,
                    f"{who}: {STAT_KEYS[j + 1]} {v[j + 1]}, its players' sum to {sums[t, j + 1]}")
            if t_minutes_sum[t]:
                add((TEAM, side, T_MINUTES_SUM, 0, 0, 0), "team_minutes_sum", CONSISTENCY,
                    f"{who}: minutes {tminutes[t]:.2f}, its players' sum to {minutes_sum[t]:.2f}")

    quarantined = []
    for g, found in sorted(issues.items()):
        found.sort(key=lambda issue: issue[0])
        quarantined.append({
            "index": g, "game_id": game_ids[g], "classification": CLASS_NAMES[min(c for _, _, c, _ in found)],
            "issues": [{"code": code, "classification": CLASS_NAMES[c], "reason": r} for _, code, c, r in found],
            "record": games[g]})

    # The rows, every column at once (the kept games' rows: whole games, both teams and their players).
    pair = np.arange(len(tgame))
    game_id = np.array([row_game_id[g] for g in trow["game"]], dtype=object)
    teams = pd.DataFrame({
        "game_date": date, "season": season, "game_id": game_id,
        **{k: v for k, v in trow.items() if k not in ("game", "minutes_text")},
        "is_home": pair % 2 == 0, "opponent_points": tc[pair ^ 1, PTS], "win": tc[:, PTS] > tc[pair ^ 1, PTS],
        "minutes": tminutes, **{c: tc[:, j] for j, c in enumerate(COUNT_COLS)}}, index=pair)
    position = pd.Series(prow["position"], dtype=object).str.strip(RUST_WS)
    position = position.where(position.notna() & (position != ""), None)
    first, family = pd.Series(prow["first_name"], dtype=object), pd.Series(prow["family_name"], dtype=object)
    players = pd.DataFrame({
        "game_date": date, "season": season, "game_id": game_id[pteam],
        **{k: v for k, v in prow.items() if k not in ("position", "minutes_text")},
        "is_home": pteam % 2 == 0, "player_name": (first + " " + family).str.strip(RUST_WS), "position": position,
        "starter": position.notna(), "played": pminutes > 0.0, "minutes": pminutes,
        **{c: pc[:, j] for j, c in enumerate(COUNT_COLS)}}, index=np.arange(len(pteam)))
    if issues:
        keep = ~np.isin(tgame, list(issues))
        teams, players = teams[keep], players[keep[pteam]]
    # A stable order whatever the order of the games in the document: game, home first, player id.
    teams = teams.sort_values(["game_id", "is_home"], ascending=[True, False], kind="stable")
    players = players.sort_values(["game_id", "is_home", "player_id"], ascending=[True, False, True], kind="stable")
    return season, len(games), players, teams, quarantined


def to_parquet(df, schema, path):
    table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path, compression="zstd", compression_level=3)
    return os.path.getsize(path)


def main():
    out, passes, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    times, summary = [], {}
    for _ in range(passes):
        started = time.perf_counter()
        bronze = games = player_rows = team_rows = parquet = 0
        quarantined = []
        for path in files:
            m = re.search(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})(?:/|$)", path)
            key_date = dt.datetime.strptime(m.group(1), "%Y-%m-%d").date()
            with open(path, "rb") as f:
                data = f.read()
            season, n, players, teams, q = transform(data, key_date)
            for table, df, schema in (("player_stats", players, PLAYER_SCHEMA), ("team_stats", teams, TEAM_SCHEMA)):
                parquet += to_parquet(df, schema, f"{out}/silver/{table}/season={season}/date={key_date}/data.parquet")
            bronze += len(data)
            games += n
            player_rows += len(players)
            team_rows += len(teams)
            quarantined += [{"date": str(key_date), "game_id": x["game_id"], "classification": x["classification"]}
                            for x in q]
        times.append(time.perf_counter() - started)
        summary = {"files": len(files), "bronze_bytes": bronze, "games": games, "player_rows": player_rows,
                   "team_rows": team_rows, "parquet_bytes": parquet, "quarantined": quarantined}
    summary["pass_s"] = times
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
