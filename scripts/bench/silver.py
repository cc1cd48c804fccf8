"""Reference port of silver-processing's transformation to Python (pandas + pyarrow).

FOR BENCHMARKING ONLY (`scripts/bench-lambdas.py`): the stage is the Rust crate
`lambdas/silver-processing`; this port exists so that its speed and memory can be compared with what the
original project's Python Lambdas would have cost. It follows `transform.rs` and `parquet_out.rs`: parse
the bronze JSON, check the shape of every game (the Rust side's serde types), flatten players and teams,
convert minutes (`MM:SS`, `PT36M24S`, `PT36M24.00S`, `PT1H2M`), apply the same validation rules per game
(quarantining a game that breaks any), sort the rows the same way and write zstd (level 3) Parquet with
the same typed schemas. The bench checks that both give equal tables on the same input.

    python silver.py OUT PASSES FILE...

prints one JSON line like `bench_silver transform` (counts, quarantined games, time of every pass).
"""

import datetime as dt
import json
import os
import re
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# The counting statistics, in the order of the Rust `Counts` (JSON names, silver column names).
STATS = [
    ("points", "points"),
    ("fieldGoalsMade", "field_goals_made"),
    ("fieldGoalsAttempted", "field_goals_attempted"),
    ("threePointersMade", "three_pointers_made"),
    ("threePointersAttempted", "three_pointers_attempted"),
    ("freeThrowsMade", "free_throws_made"),
    ("freeThrowsAttempted", "free_throws_attempted"),
    ("reboundsOffensive", "rebounds_offensive"),
    ("reboundsDefensive", "rebounds_defensive"),
    ("reboundsTotal", "rebounds_total"),
    ("assists", "assists"),
    ("steals", "steals"),
    ("blocks", "blocks"),
    ("turnovers", "turnovers"),
    ("foulsPersonal", "fouls_personal"),
]
STAT_KEYS = [k for k, _ in STATS]
COUNT_COLS = [c for _, c in STATS]
# (made, attempted) pairs that must hold made <= attempted (3PM <= FGM and 3PA <= FGA included).
PAIRS = [
    ("field_goals_made", "field_goals_attempted"),
    ("three_pointers_made", "three_pointers_attempted"),
    ("free_throws_made", "free_throws_attempted"),
    ("three_pointers_made", "field_goals_made"),
    ("three_pointers_attempted", "field_goals_attempted"),
]
I32_MAX = 2**31 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
PLAYER_MAX_POINTS = 100
PLAYER_MAX_MINUTES = 70.0
TEAM_POINTS = (60, 200)

# Classifications, most fundamental first (as the Rust enum's order).
SCHEMA, DUPLICATE, CONSISTENCY, INVARIANT, RANGE = range(5)
CLASS_NAMES = ["schema", "duplicate", "consistency", "invariant", "range"]

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


def season_of(date):
    start = date.year if date.month >= 7 else date.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


# Numbers as Rust's `f64::from_str` and `u32::from_str` accept them (Python's float() also takes
# whitespace and underscores).
FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
UINT = re.compile(r"\+?\d+")
_minutes_cache = {}


def _parse_minutes(text):
    text = text.strip()
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
                if not (np.isfinite(n) and n >= 0.0):
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


class SchemaError(Exception):
    pass


def _is_int(v):
    return type(v) is int and I64_MIN <= v <= I64_MAX


def _str(obj, key, default=None):
    v = obj.get(key, default)
    if type(v) is not str:
        raise SchemaError(f"`{key}`: expected a string")
    return v


def _stats(s):
    """(counts, minutes text, plus-minus) of a statistics object; the shape checks of the Rust serde types."""
    if type(s) is not dict:
        raise SchemaError("`statistics`: expected an object")
    try:
        counts = [s[k] for k in STAT_KEYS]
    except KeyError as e:
        raise SchemaError(f"missing field `{e.args[0]}`") from None
    for k, v in zip(STAT_KEYS, counts):
        if not _is_int(v):
            raise SchemaError(f"`{k}`: expected i64")
    minutes = s.get("minutes")
    if minutes is not None and type(minutes) is not str:
        raise SchemaError("`minutes`: expected a string")
    pm = s.get("plusMinusPoints", 0.0)
    if type(pm) is not float and not _is_int(pm):
        raise SchemaError("`plusMinusPoints`: expected f64")
    return counts, minutes or "", float(pm)


def _team(t):
    if type(t) is not dict:
        raise SchemaError("team: expected an object")
    team_id = t.get("teamId")
    if not _is_int(team_id):
        raise SchemaError("`teamId`: expected i64")
    fields = (team_id, _str(t, "teamCity"), _str(t, "teamName"), _str(t, "teamTricode"), _str(t, "teamSlug", ""))
    players = t.get("players")
    if type(players) is not list:
        raise SchemaError("`players`: expected a sequence")
    out = []
    for p in players:
        if type(p) is not dict:
            raise SchemaError("player: expected an object")
        person_id = p.get("personId")
        if not _is_int(person_id):
            raise SchemaError("`personId`: expected i64")
        position = p.get("position")
        if position is not None and type(position) is not str:
            raise SchemaError("`position`: expected a string")
        if "statistics" not in p:
            raise SchemaError("missing field `statistics`")
        out.append((person_id, _str(p, "firstName"), _str(p, "familyName"), position, _stats(p["statistics"])))
    if "statistics" not in t:
        raise SchemaError("missing field `statistics`")
    return fields, out, _stats(t["statistics"])


def _box_score(inner):
    if type(inner) is not dict:
        raise SchemaError("box score: expected an object")
    game_id = _str(inner, "gameId")
    for key in ("homeTeam", "awayTeam"):
        if key not in inner:
            raise SchemaError(f"missing field `{key}`")
    return game_id, _team(inner["homeTeam"]), _team(inner["awayTeam"])


def _count_issues(df, who, issues):
    """The arithmetic rules of `check_counts`, vectorized; `issues[row game] += [(class, reason)]` for breaches."""
    c = {col: df[col].to_numpy() for col in COUNT_COLS}
    bad = np.zeros(len(df), dtype=bool)
    for col in COUNT_COLS:
        bad |= (c[col] < 0) | (c[col] > I32_MAX)
    for a, b in PAIRS:
        bad |= c[a] > c[b]
    bad |= c["rebounds_total"] != c["rebounds_offensive"] + c["rebounds_defensive"]
    expected = 2 * c["field_goals_made"] + c["three_pointers_made"] + c["free_throws_made"]
    bad |= c["points"] != expected
    for i in np.flatnonzero(bad):  # the slow path: only rows that break a rule
        game, name = int(df["game"].iat[i]), who(df, i)
        v = {col: int(c[col][i]) for col in COUNT_COLS}
        for (key, col) in STATS:
            if v[col] < 0:
                issues.setdefault(game, []).append((INVARIANT, f"{name}: {key} is negative ({v[col]})"))
            elif v[col] > I32_MAX:
                issues.setdefault(game, []).append((RANGE, f"{name}: {key} is too large ({v[col]})"))
        for a, b in PAIRS:
            if v[a] > v[b]:
                issues.setdefault(game, []).append((INVARIANT, f"{name}: {a} {v[a]} > {b} {v[b]}"))
        if v["rebounds_total"] != v["rebounds_offensive"] + v["rebounds_defensive"]:
            issues.setdefault(game, []).append((INVARIANT, f"{name}: rebounds do not add up"))
        if v["points"] != int(expected[i]):
            issues.setdefault(game, []).append((INVARIANT, f"{name}: points != 2 x FGM + 3PM + FTM"))


def transform(data, key_date):
    """Bronze document bytes -> (season, games, player DataFrame, team DataFrame, quarantined list)."""
    doc = json.loads(data)
    if type(doc) is not dict or type(doc.get("date")) is not str or type(doc.get("games")) is not list:
        raise ValueError('bronze document is not {"date": "YYYY-MM-DD", "games": [...]}')
    date = dt.datetime.strptime(doc["date"], "%Y-%m-%d").date()
    if date != key_date:
        raise ValueError(f"bronze document is for {date} but its key is for {key_date}")
    season = season_of(date)
    games = doc["games"]

    # Flatten: one entry per game that has the right shape; shape errors and duplicates quarantine at once.
    issues = {}  # game index -> [(classification, reason)]
    game_ids = {}
    seen = set()
    prow = {k: [] for k in ("game", "is_home", "team_id", "team_tricode", "opponent_team_id", "player_id", "first_name",
                            "family_name", "position", "minutes_text", "plus_minus")}
    pcounts = []
    trow = {k: [] for k in ("game", "is_home", "team_id", "team_city", "team_name", "team_tricode", "team_slug",
                            "opponent_team_id", "minutes_text", "plus_minus")}
    tcounts = []
    for index, record in enumerate(games):
        inner = record.get("boxScoreTraditional", record) if type(record) is dict else record
        gid = inner.get("gameId") if type(inner) is dict else None
        game_ids[index] = gid if type(gid) is str else None
        try:
            game_id, home, away = _box_score(inner)
        except SchemaError as e:
            issues[index] = [(SCHEMA, str(e))]
            continue
        if game_id in seen:
            issues[index] = [(DUPLICATE, f"game {game_id} appears more than once")]
            continue
        seen.add(game_id)
        game_ids[index] = game_id
        for (team, players, stats), opponent, is_home in ((home, away, True), (away, home, False)):
            counts, minutes, pm = stats
            trow["game"].append(index)
            trow["is_home"].append(is_home)
            trow["team_id"].append(team[0])
            trow["team_city"].append(team[1])
            trow["team_name"].append(team[2])
            trow["team_tricode"].append(team[3])
            trow["team_slug"].append(team[4])
            trow["opponent_team_id"].append(opponent[0][0])
            trow["minutes_text"].append(minutes)
            trow["plus_minus"].append(pm)
            tcounts.append(counts)
            for person_id, first, family, position, (pc, pmin, ppm) in players:
                prow["game"].append(index)
                prow["is_home"].append(is_home)
                prow["team_id"].append(team[0])
                prow["team_tricode"].append(team[3])
                prow["opponent_team_id"].append(opponent[0][0])
                prow["player_id"].append(person_id)
                prow["first_name"].append(first)
                prow["family_name"].append(family)
                prow["position"].append(position)
                prow["minutes_text"].append(pmin)
                prow["plus_minus"].append(ppm)
                pcounts.append(pc)

    players = pd.DataFrame(prow)
    teams = pd.DataFrame(trow)
    # Counts as int64 (Python ints beyond i64 were refused above as the serde types do).
    players[COUNT_COLS] = np.array(pcounts, dtype=np.int64).reshape(-1, len(COUNT_COLS))
    teams[COUNT_COLS] = np.array(tcounts, dtype=np.int64).reshape(-1, len(COUNT_COLS))
    players["game_id"] = players["game"].map(game_ids)
    teams["game_id"] = teams["game"].map(game_ids)
    players["minutes"] = players["minutes_text"].map(parse_minutes)
    teams["minutes"] = teams["minutes_text"].map(parse_minutes)

    def add(game, classification, reason):
        issues.setdefault(int(game), []).append((classification, reason))

    def team_who(df, i):
        return f"team {df['team_tricode'].iat[i]} ({df['team_id'].iat[i]})"

    def player_who(df, i):
        return f"player {df['first_name'].iat[i]} {df['family_name'].iat[i]} ({df['player_id'].iat[i]})"

    # Game rules: home != away, no tie (teams come in home, away pairs).
    home, away = teams[teams["is_home"]], teams[~teams["is_home"]]
    for g, h, a in zip(home["game"].to_numpy(), home["team_id"].to_numpy(), away["team_id"].to_numpy()):
        if h == a:
            add(g, CONSISTENCY, f"home team = away team ({h})")
    for g, h, a in zip(home["game"].to_numpy(), home["points"].to_numpy(), away["points"].to_numpy()):
        if h == a:
            add(g, CONSISTENCY, f"tie at {h} points")
    # Team rules.
    out_of_range = (teams["points"] < TEAM_POINTS[0]) | (teams["points"] > TEAM_POINTS[1])
    for i in np.flatnonzero(out_of_range.to_numpy()):
        add(teams["game"].iat[i], RANGE, f"{team_who(teams, i)}: points {teams['points'].iat[i]} outside 60..=200")
    _count_issues(teams, team_who, issues)
    for i in np.flatnonzero(teams["minutes"].isna().to_numpy()):
        add(teams["game"].iat[i], SCHEMA, f"{team_who(teams, i)}: minutes are neither MM:SS nor PT#M#S")
    # Player rules.
    dup = players.duplicated(["game", "is_home", "player_id"]).to_numpy()
    for i in np.flatnonzero(dup):
        add(players["game"].iat[i], DUPLICATE, f"{player_who(players, i)} appears twice")
    _count_issues(players, player_who, issues)
    for i in np.flatnonzero((players["points"] > PLAYER_MAX_POINTS).to_numpy()):
        add(players["game"].iat[i], RANGE, f"{player_who(players, i)}: points > {PLAYER_MAX_POINTS}")
    for i in np.flatnonzero(players["minutes"].isna().to_numpy()):
        add(players["game"].iat[i], SCHEMA, f"{player_who(players, i)}: minutes are neither MM:SS nor PT#M#S")
    for i in np.flatnonzero((players["minutes"] > PLAYER_MAX_MINUTES).to_numpy()):
        add(players["game"].iat[i], RANGE, f"{player_who(players, i)}: minutes > {PLAYER_MAX_MINUTES}")
    # Player points sum to the team's.
    sums = players.groupby(["game", "is_home"])["points"].sum()
    team_sums = sums.reindex(pd.MultiIndex.from_arrays([teams["game"], teams["is_home"]]), fill_value=0).to_numpy()
    for i in np.flatnonzero(team_sums != teams["points"].to_numpy()):
        add(teams["game"].iat[i], CONSISTENCY,
            f"{team_who(teams, i)}: player points sum to {team_sums[i]}, team points are {teams['points'].iat[i]}")

    quarantined = [
        {"index": g, "game_id": game_ids.get(g), "classification": CLASS_NAMES[min(c for c, _ in found)],
         "issues": [{"classification": CLASS_NAMES[c], "reason": r} for c, r in found], "record": games[g]}
        for g, found in sorted(issues.items())
    ]
    bad = list(issues)
    players = players[~players["game"].isin(bad)]
    teams = teams[~teams["game"].isin(bad)]

    # Derived columns.
    opponent_points = teams.groupby("game")["points"].transform("sum") - teams["points"]
    teams = teams.assign(game_date=date, season=season, opponent_points=opponent_points,
                         win=teams["points"] > opponent_points)
    position = players["position"].str.strip()
    position = position.where(position.notna() & (position != ""), None)
    players = players.assign(
        game_date=date, season=season,
        player_name=(players["first_name"] + " " + players["family_name"]).str.strip(),
        position=position, starter=position.notna(), played=players["minutes"] > 0.0)
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
