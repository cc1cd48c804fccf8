"""What the benchmark ports share (FOR BENCHMARKING ONLY, `scripts/bench-lambdas.py`): the silver bucket's layout
as a directory (`DIR/silver/{table}/season={season}/date={date}/data.parquet`, the stages' key templates) and the
box score's counting statistics. Imports nothing heavy, so that each port's wall time counts only its own library.
"""

import datetime as dt
import json
import os
import sys


# The silver columns gold reads, with their Arrow types (each port maps them to its own type names).
PLAYER_COLUMNS = {"game_date": "date32[day]", "season": "string", "game_id": "string", "team_id": "int64",
                  "player_id": "int64", "played": "bool", "minutes": "double", "points": "int32",
                  "field_goals_made": "int32", "field_goals_attempted": "int32", "three_pointers_made": "int32",
                  "free_throws_attempted": "int32", "assists": "int32", "turnovers": "int32",
                  "player_name": "string"}
TEAM_COLUMNS = {"game_date": "date32[day]", "season": "string", "game_id": "string", "team_id": "int64",
                "team_tricode": "string", "minutes": "double", "points": "int32", "field_goals_made": "int32",
                "field_goals_attempted": "int32", "three_pointers_made": "int32", "free_throws_attempted": "int32",
                "rebounds_offensive": "int32", "assists": "int32", "turnovers": "int32"}


def season_of(date):
    """The NBA season of a date (`2024-25` from July 2024 to June 2025), as `silver_processing::season_of`."""
    start = date.year if date.month >= 7 else date.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def path(root, table, date):
    """The silver object of `table` (`player_stats`, `team_stats`) for `date` under `root`."""
    return f"{root}/silver/{table}/season={season_of(date)}/date={date}/data.parquet"


def season_dates(root, season):
    """The dates of `season` that have a `player_stats` object under `root`, sorted."""
    names = os.listdir(f"{root}/silver/player_stats/season={season}")
    return sorted(dt.date.fromisoformat(n[5:]) for n in names if n.startswith("date="))


# The counting statistics, in the order of the Rust `Counts` and `Statistics` (JSON names, silver column names).
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


def workload(argv, usage):
    """The command line of a gold port: `day DIR DATE [DUMP]` (the date with every earlier date of its season) or
    `season DIR [DUMP]` (every date of the 2024-25 season). Returns (mode, root, season, dates, the date or None, the
    dump's path or None); exits with `usage` otherwise."""
    if len(argv) < 3 or argv[1] not in ("day", "season") or (argv[1] == "day" and len(argv) < 4):
        sys.exit(usage)
    mode, root = argv[1], argv[2]
    if mode == "day":
        date = dt.date.fromisoformat(argv[3])
        season = season_of(date)
        dates = [d for d in season_dates(root, season) if d < date] + [date]
        return mode, root, season, dates, date, argv[4] if len(argv) > 4 else None
    season = "2024-25"
    return mode, root, season, season_dates(root, season), None, argv[3] if len(argv) > 3 else None


def write_records(out, records):
    """JSON lines as gold.py writes them from `{day: {"player": [record, ...], "team": [...]}}`: per date, its players
    then its teams, each in input order."""
    for day in sorted(records):
        for table in ("player", "team"):
            for record in records[day][table]:
                out.write(json.dumps(record) + "\n")
