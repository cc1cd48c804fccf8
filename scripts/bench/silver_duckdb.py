"""Silver's bronze -> Parquet flattening as DuckDB's bulk path: `read_json` of every bronze file, `COPY ... TO`.

FOR BENCHMARKING ONLY (`scripts/bench-lambdas.py`, the silver season): the stage is the Rust crate
`lambdas/silver-processing`; this is what a data engineer would write without Rust to turn a season of bronze
box scores into silver: one `read_json` of all the season's files (the box score's fields declared, so that
nothing is guessed and unused fields are skipped), the games unnested into a temporary table (read once), then
one `COPY ... TO ... (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3, PARTITION_BY (season, date))` per
table, which writes `OUT/silver/{table}/season={season}/date={date}/data_0.parquet` (DuckDB's file name, `data_0`
rather than `data`). The columns, types and rows are those of the Rust stage's objects, with three differences
DuckDB's writer imposes: every column is nullable (`optional` in the Parquet schema; the Rust stage declares all
but `position` `required`); each file also holds the partition column `date` (= `game_date`: `PARTITION_BY` names
the directory after the column, and `game_date`/`season` must stay in the file as in the Rust objects, hence
WRITE_PARTITION_COLUMNS); and the rows are in the order DuckDB's threads produce them (an `ORDER BY` does not
survive a partitioned, parallel write: the stage's order, game then home team first then player, is not kept).

Not checked, unlike the Rust stage (and `silver.py`): none of the validation rules (a game that breaks one is
written like any other, nothing is quarantined), the shape of the documents beyond what the declared types force
(a missing field is NULL, a field of another type fails the whole load), copies of one game (written as often as
they appear), that a document's `date` is its key's (the date comes from the document), the minutes' format
(`MM:SS` and `PT#H#M#S` are converted, anything else gives NULL or fails the load), counts beyond 32 bits (the
cast fails the load). So it costs less work than the stage; the bench reports it next to the Rust stage's time
on a season without corrupted games, where both write the same rows.

    python silver_duckdb.py OUT PASSES FILE...

prints one JSON line like `bench_silver transform` (counts, `quarantined` always empty, time of every pass; the
threads DuckDB used).
"""

import json
import os
import sys
import time

import duckdb

from layout import STATS as COUNTS  # noqa: E402

# The bronze document's fields that silver uses (others in the JSON are skipped by the reader).
STATISTICS = "STRUCT(minutes VARCHAR, {}, plusMinusPoints DOUBLE)".format(
    ", ".join(f"{k} BIGINT" for k, _ in COUNTS))
TEAM = (f"STRUCT(teamId BIGINT, teamCity VARCHAR, teamName VARCHAR, teamTricode VARCHAR, teamSlug VARCHAR, "
        f"players STRUCT(personId BIGINT, firstName VARCHAR, familyName VARCHAR, position VARCHAR, "
        f"statistics {STATISTICS})[], statistics {STATISTICS})")
DOCUMENT = {"date": "DATE",
            "games": f"STRUCT(boxScoreTraditional STRUCT(gameId VARCHAR, homeTeam {TEAM}, awayTeam {TEAM}))[]"}

# Minutes as `transform::parse_minutes` computes them: `MM:SS` is m + s / 60; `PT#H#M#S` adds h x 60, m and
# s x (1 / 60) in that order; empty (a player who did not play) is 0.
MACROS = r"""
CREATE MACRO minutes_of(text) AS (
    CASE
        WHEN coalesce(trim(text), '') = '' THEN 0.0::DOUBLE
        WHEN starts_with(trim(text), 'PT') THEN
            coalesce(nullif(regexp_extract(trim(text), '([0-9.]+)H', 1), '')::DOUBLE * 60.0, 0.0)
            + coalesce(nullif(regexp_extract(trim(text), '([0-9.]+)M', 1), '')::DOUBLE, 0.0)
            + coalesce(nullif(regexp_extract(trim(text), '([0-9.]+)S', 1), '')::DOUBLE
                       * (1.0::DOUBLE / 60.0::DOUBLE), 0.0)
        ELSE split_part(trim(text), ':', 1)::DOUBLE + split_part(trim(text), ':', 2)::DOUBLE / 60.0::DOUBLE
    END
);
CREATE MACRO season_of(d) AS (
    (year(d) - CASE WHEN month(d) >= 7 THEN 0 ELSE 1 END)::VARCHAR || '-'
    || lpad(((year(d) - CASE WHEN month(d) >= 7 THEN 0 ELSE 1 END + 1) % 100)::VARCHAR, 2, '0')
);
"""


def counts(stats):
    return ", ".join(f"{stats}.{k}::INTEGER AS {c}" for k, c in COUNTS)


def copy_options(out, table):
    return (f"TO '{out}/silver/{table}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3, "
            "PARTITION_BY (season, date), WRITE_PARTITION_COLUMNS true, FILENAME_PATTERN 'data_{i}', "
            "OVERWRITE_OR_IGNORE true)")


def run(con, out, files):
    """One pass: the season's files read once, both tables written. (games, player rows, team rows)."""
    con.execute("DROP TABLE IF EXISTS teams")
    # One row per team of a game (`is_home` tells which) with its opponent, its players still nested: the bronze
    # files are read once for both COPYs.
    con.execute(f"""
        CREATE TEMP TABLE teams AS
        WITH games AS (
            SELECT date, unnest(games).boxScoreTraditional AS bs
            FROM read_json(?, columns = {DOCUMENT!r}, format = 'auto')
        )
        SELECT date, bs.gameId AS game_id, side.is_home, side.team, side.opponent
        FROM games, LATERAL (
            SELECT true AS is_home, bs.homeTeam AS team, bs.awayTeam AS opponent
            UNION ALL SELECT false, bs.awayTeam, bs.homeTeam
        ) AS side
    """, [files])
    games = con.execute("SELECT count(*) // 2 FROM teams").fetchone()[0]
    team_rows = con.execute(f"""
        COPY (
            SELECT date AS game_date, season_of(date) AS season, game_id, team.teamId AS team_id,
                   team.teamCity AS team_city, team.teamName AS team_name, team.teamTricode AS team_tricode,
                   coalesce(team.teamSlug, '') AS team_slug, is_home, opponent.teamId AS opponent_team_id,
                   opponent.statistics.points::INTEGER AS opponent_points,
                   team.statistics.points > opponent.statistics.points AS win,
                   minutes_of(team.statistics.minutes) AS minutes, {counts('team.statistics')},
                   coalesce(team.statistics.plusMinusPoints, 0.0) AS plus_minus, date
            FROM teams
        ) {copy_options(out, 'team_stats')}
    """).fetchone()[0]
    player_rows = con.execute(f"""
        COPY (
            WITH players AS (
                SELECT date, game_id, is_home, team.teamId AS team_id, team.teamTricode AS team_tricode,
                       opponent.teamId AS opponent_team_id, unnest(team.players) AS p
                FROM teams
            ), converted AS (
                SELECT *, nullif(trim(p.position), '') AS position, minutes_of(p.statistics.minutes) AS minutes
                FROM players
            )
            SELECT date AS game_date, season_of(date) AS season, game_id, team_id, team_tricode, opponent_team_id,
                   is_home, p.personId AS player_id, trim(p.firstName || ' ' || p.familyName) AS player_name,
                   p.firstName AS first_name, p.familyName AS family_name, position, position IS NOT NULL AS starter,
                   minutes > 0 AS played, minutes, {counts('p.statistics')},
                   coalesce(p.statistics.plusMinusPoints, 0.0) AS plus_minus, date
            FROM converted
        ) {copy_options(out, 'player_stats')}
    """).fetchone()[0]
    return games, player_rows, team_rows


def main():
    out, passes, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    times, summary = [], {}
    for _ in range(passes):
        started = time.perf_counter()
        os.makedirs(f"{out}/silver", exist_ok=True)
        con = duckdb.connect()  # an in-memory database (counted, as the Rust stage's setup is)
        con.execute(MACROS)
        games, player_rows, team_rows = run(con, out, files)
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        con.close()
        times.append(time.perf_counter() - started)
        parquet = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(f"{out}/silver") for f in names)
        summary = {"files": len(files), "bronze_bytes": sum(os.path.getsize(f) for f in files), "games": games,
                   "player_rows": player_rows, "team_rows": team_rows, "parquet_bytes": parquet, "quarantined": [],
                   "threads": threads}
    summary["pass_s"] = times
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
