"""Reference port of gold-analytics' computation to DuckDB SQL.

FOR BENCHMARKING ONLY (`scripts/bench-lambdas.py`): the stage is the Rust crate `lambdas/gold-analytics`;
this port computes what `scripts/bench/gold.py` (the pandas port) computes, with the same formulas and
season-to-date aggregates (as documented in the crate's `src/lib.rs`), NULL (`None` in the dump) where a
denominator is zero, and the same consistency checks, so that speed and memory can be compared on the same
silver Parquet. The bench checks that it gives the same rows and values as the Rust stage.

    python gold_duckdb.py day DIR DATE [DUMP]     # one date with its season context (it and every earlier date)
    python gold_duckdb.py season DIR [DUMP]       # every date of the season, in one query over the whole season

`DIR` is laid out as the silver bucket (`silver/{table}/season={season}/date={date}/data.parquet`).
Prints one JSON line like `gold.py` (`read_s`: the silver objects read into DuckDB tables, `compute_s`: the
checks and the analytics, materialized as DuckDB tables; the dump, when asked for, is written after the
timing). Season-to-date aggregates are window aggregates over the rows of the same player or team: in
`season` ordered by date, so that each row gets the totals of the dates up to and including its own; in
`day` over every row read (all of them count). Rows keep the input order: (date, position in the object).
"""

import json
import sys
import time

import duckdb


from layout import PLAYER_COLUMNS, TEAM_COLUMNS, path, workload, write_records  # noqa: E402


# The columns used, with silver's types in DuckDB's names.
DUCKDB = {"date32[day]": "DATE", "string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "bool": "BOOLEAN",
          "double": "DOUBLE"}
PLAYER_TYPES = {c: DUCKDB[t] for c, t in PLAYER_COLUMNS.items()}
TEAM_TYPES = {c: DUCKDB[t] for c, t in TEAM_COLUMNS.items()}

# The formulas, as macros on DOUBLE (decimal literals such as 0.44 are DECIMAL in DuckDB: every operand is cast
# so that the arithmetic is the f64 arithmetic of the Rust stage and of numpy).
MACROS = """
CREATE TEMP MACRO ratio(num, den) AS CASE WHEN den > 0 THEN num / den END;
CREATE TEMP MACRO attempts(fga, fta) AS fga::DOUBLE + 0.44::DOUBLE * fta::DOUBLE;
"""


def sql_list(items):
    return "[" + ", ".join("'" + str(x).replace("'", "''") + "'" for x in items) + "]"


def read(con, name, table, types, root, dates):
    """Creates the DuckDB table `name` from the silver objects of `table` for `dates`: the columns used, `_day`
    (the date of the object's path) and `_rn` (the row's position in its object); `(_day, _rn)` is the rows'
    order. The columns must have silver's types (as DuckDB binds them from the first object; it casts a later
    object's columns to those types or fails) and no nulls. Returns the number of rows."""
    files = [path(root, table, d) for d in dates]
    # hive_partitioning off: with it, DuckDB replaces the file's `season` column with the path's `season=`.
    source = f"read_parquet({sql_list(files)}, hive_partitioning = false, filename = true, file_row_number = true)"
    try:
        # The object -> date map is joined on the `filename` column.
        con.execute(f"""
            CREATE TEMP TABLE {name} AS
            SELECT f.day AS _day, r.file_row_number AS _rn, {', '.join(f'r.{c}' for c in types)}
            FROM {source} r JOIN (SELECT unnest($files) AS filename, unnest($days) AS day) f USING (filename)
        """, {"files": files, "days": list(dates)})
    except duckdb.BinderException:
        found = con.sql(f"SELECT * FROM {source}").columns
        missing = [c for c in types if c not in found]
        if missing:
            raise ValueError(f"{table}: column `{missing[0]}` is missing") from None
        raise
    relation = con.table(name)
    found = dict(zip(relation.columns, map(str, relation.types)))
    for column, expected in types.items():
        if found[column] != expected:
            raise ValueError(f"{table}: column `{column}` is {found[column]}, expected {expected}")
    counts = first(con, f"SELECT count(*), {', '.join(f'count({c})' for c in types)} FROM {name}")
    for column, count in zip(types, counts[1:]):
        if count != counts[0]:
            raise ValueError(f"{table}: column `{column}` has a null")
    return counts[0]


def first(con, query, params=None):
    """The first row of `query` (ordered as it says), or None."""
    rows = con.execute(query + " LIMIT 1", params).fetchall()
    return rows[0] if rows else None


# gold.py's consistency checks in its order, each the first offending row (in input order) as up to three values
# and the message to raise with them; run as one query (one round trip; each part a cheap scan of a small table).
CHECKS = [
    ("SELECT game_date, NULL, NULL FROM players WHERE game_date <> _day ORDER BY _day, _rn",
     "a row of player_stats is for {0}"),
    ("SELECT season, NULL, NULL FROM players WHERE season <> $season ORDER BY _day, _rn",
     "rows of season {0} in a date of season {season}"),
    ("SELECT game_date, NULL, NULL FROM teams WHERE game_date <> _day ORDER BY _day, _rn",
     "a row of team_stats is for {0}"),
    ("SELECT season, NULL, NULL FROM teams WHERE season <> $season ORDER BY _day, _rn",
     "rows of season {0} in a date of season {season}"),
    # Every (date, game) has exactly two team rows, of distinct teams (`team_games` counted them on every row).
    ("SELECT _day, game_id, game_rows FROM team_games WHERE game_rows <> 2 OR low_team = high_team "
     + "ORDER BY _day, game_id", "{0}: game {1} has {2} team row(s) in team_stats, expected 2"),
]


def check(con, season):
    parts = " UNION ALL ".join(
        f"(SELECT {k} AS k, a::VARCHAR, b::VARCHAR, c::VARCHAR FROM ({query} LIMIT 1) AS found(a, b, c))"
        for k, (query, _) in enumerate(CHECKS))
    row = first(con, f"SELECT * FROM ({parts}) ORDER BY k", {"season": season})
    if row:
        raise ValueError(CHECKS[row[0]][1].format(*row[1:], season=season))


def compute(con, targets, cumulative, season):
    """The analytics of the dates `targets` (a SQL condition on `{day}`, the rows' date) into the tables
    `player_out` and `team_out` (in input order: (_day, _rn)). Season-to-date context: every row of
    `players`/`teams` up to and including the row's date; `cumulative` False when every row read counts (one
    date: no ordering needed)."""
    # Each team row with its game: the game's rows and teams (for the check), the opponent's points (the other
    # row of the pair: the pair's sum minus its own) and the game's possessions (the mean of both teams').
    con.execute("""
        CREATE TEMP TABLE team_games AS
        SELECT *,
               count(*) OVER game AS game_rows, min(team_id) OVER game AS low_team, max(team_id) OVER game AS high_team,
               sum(points) OVER game - points AS opponent_points,
               sum(attempts(field_goals_attempted, free_throws_attempted) - rebounds_offensive::DOUBLE
                   + turnovers::DOUBLE) OVER game / 2.0::DOUBLE AS possessions
        FROM teams
        WINDOW game AS (PARTITION BY _day, game_id)
    """)
    check(con, season)

    # Season-to-date totals as window aggregates over the rows of the same id (team, player). `cumulative`:
    # ordered by date, where the default frame (RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) holds the id's
    # rows of every date up to and including the row's date (the rows of that date are peers: all of them count).
    # Else every row read counts (one date: all read dates are up to it). Integer sums as DOUBLE: exact below 2^53.
    to_date = "PARTITION BY {id} ORDER BY _day" if cumulative else "PARTITION BY {id}"
    con.execute(f"""
        CREATE TEMP TABLE team_out AS
        WITH rated AS (
            SELECT *,
                   count(*) OVER to_date AS season_games, sum(points::DOUBLE) OVER to_date AS season_points,
                   sum(opponent_points::DOUBLE) OVER to_date AS season_opponent_points,
                   sum(possessions) OVER to_date AS season_possessions,
                   ratio(100.0::DOUBLE * points::DOUBLE, possessions) AS offensive_rating,
                   ratio(100.0::DOUBLE * opponent_points::DOUBLE, possessions) AS defensive_rating
            FROM team_games
            WINDOW to_date AS ({to_date.format(id="team_id")})
        )
        SELECT _day, _rn, game_date, season, team_id, team_tricode, game_id, points,
               ratio(48.0::DOUBLE * possessions, minutes / 5.0::DOUBLE) AS pace,
               offensive_rating, defensive_rating, offensive_rating - defensive_rating AS net_rating,
               ratio(points::DOUBLE, 2.0::DOUBLE * attempts(field_goals_attempted, free_throws_attempted))
                   AS true_shooting_pct,
               ratio(field_goals_made::DOUBLE + 0.5::DOUBLE * three_pointers_made::DOUBLE,
                     field_goals_attempted::DOUBLE) AS effective_fg_pct,
               ratio(assists::DOUBLE, turnovers::DOUBLE) AS assist_turnover_ratio,
               season_games::INTEGER AS season_games,
               ratio(100.0::DOUBLE * (season_points - season_opponent_points), season_possessions)
                   AS season_net_rating
        FROM rated
        WHERE {targets.format(day="_day")}
        ORDER BY _day, _rn
    """)
    # Players of the target dates with their team's row (left join: a player without one is reported below). The
    # season totals count the rows where the player played.
    con.execute(f"""
        CREATE TEMP TABLE player_out AS
        WITH p AS (
            SELECT *,
                   count(*) FILTER (WHERE played) OVER to_date AS season_games,
                   coalesce(sum(points::DOUBLE) FILTER (WHERE played) OVER to_date, 0) AS season_points,
                   coalesce(sum(field_goals_attempted::DOUBLE) FILTER (WHERE played) OVER to_date, 0) AS season_fga,
                   coalesce(sum(free_throws_attempted::DOUBLE) FILTER (WHERE played) OVER to_date, 0) AS season_fta
            FROM players
            WINDOW to_date AS ({to_date.format(id="player_id")})
        )
        SELECT p._day, p._rn, t._rn AS team_rn, p.game_date, p.season, p.player_id, p.player_name, p.team_id,
               p.game_id, p.minutes, p.points,
               ratio(p.points::DOUBLE, 2.0::DOUBLE * attempts(p.field_goals_attempted, p.free_throws_attempted))
                   AS true_shooting_pct,
               ratio(p.field_goals_made::DOUBLE + 0.5::DOUBLE * p.three_pointers_made::DOUBLE,
                     p.field_goals_attempted::DOUBLE) AS effective_fg_pct,
               -- 100 x player plays x (team minutes / 5) / (minutes x team plays), plays = FGA + 0.44 FTA + TOV
               ratio(100.0::DOUBLE * (attempts(p.field_goals_attempted, p.free_throws_attempted) + p.turnovers::DOUBLE)
                         * (t.minutes / 5.0::DOUBLE),
                     p.minutes * (attempts(t.field_goals_attempted, t.free_throws_attempted) + t.turnovers::DOUBLE))
                   AS usage_rate,
               ratio(p.assists::DOUBLE, p.turnovers::DOUBLE) AS assist_turnover_ratio,
               p.season_games::INTEGER AS season_games,
               ratio(p.season_points, p.season_games::DOUBLE) AS season_points_per_game,
               ratio(p.season_points, 2.0::DOUBLE * attempts(p.season_fga, p.season_fta)) AS season_true_shooting_pct
        FROM p
        LEFT JOIN teams t ON t._day = p._day AND t.game_id = p.game_id AND t.team_id = p.team_id
        WHERE {targets.format(day="p._day")}
        ORDER BY p._day, p._rn
    """)
    row = first(con, "SELECT _day, player_id, team_id, game_id FROM player_out WHERE team_rn IS NULL "
                     "ORDER BY _day, _rn")
    if row:
        raise ValueError(f"{row[0]}: player {row[1]} of team {row[2]} in game {row[3]} has no team row in team_stats")
    return first(con, "SELECT (SELECT count(*) FROM player_out), (SELECT count(*) FROM team_out)")


PLAYER_COLUMNS = ["game_date", "season", "player_id", "player_name", "team_id", "minutes", "points",
                  "true_shooting_pct", "effective_fg_pct", "usage_rate", "assist_turnover_ratio", "season_games",
                  "season_points_per_game", "season_true_shooting_pct"]
TEAM_COLUMNS = ["game_date", "season", "team_id", "team_tricode", "game_id", "points", "pace", "offensive_rating",
                "defensive_rating", "net_rating", "true_shooting_pct", "effective_fg_pct", "assist_turnover_ratio",
                "season_games", "season_net_rating"]


def dump(con, out):
    """JSON lines as gold.py writes them: per date, its players then its teams, each in input order."""
    rows = {}
    for table, columns in (("player", PLAYER_COLUMNS), ("team", TEAM_COLUMNS)):
        for row in con.execute(f"SELECT _day, {', '.join(columns)} FROM {table}_out ORDER BY _day, _rn").fetchall():
            record = {"table": table, **dict(zip(columns, row[1:]))}
            record["game_date"] = str(record["game_date"])
            rows.setdefault(row[0], {"player": [], "team": []})[table].append(record)
    write_records(out, rows)


def main():
    started = time.perf_counter()
    mode, root, season, dates, date, dump_to = workload(sys.argv, __doc__)
    con = duckdb.connect()  # an in-memory database (~20 ms: counted, as the Rust stage's setup is)
    con.execute(MACROS)
    if mode == "day":
        targets, cumulative = f"{{day}} = DATE '{date}'", False
    else:
        targets, cumulative = "true", True
    player_rows = read(con, "players", "player_stats", PLAYER_TYPES, root, dates)
    team_rows = read(con, "teams", "team_stats", TEAM_TYPES, root, dates)
    read_s = time.perf_counter() - started
    t0 = time.perf_counter()
    out_rows = compute(con, targets, cumulative, season)
    compute_s = time.perf_counter() - t0
    total_s = time.perf_counter() - started
    if dump_to:
        with open(dump_to, "w") as f:
            dump(con, f)
    print(json.dumps({"dates": len(dates), "objects": 2 * len(dates), "player_rows": player_rows,
                      "team_rows": team_rows, "out_player_rows": out_rows[0], "out_team_rows": out_rows[1],
                      "read_s": read_s, "compute_s": compute_s, "total_s": total_s}))


if __name__ == "__main__":
    main()
