"""Reference port of gold-analytics' computation to Polars (expressions, lazy plans collected together).

FOR BENCHMARKING ONLY (`scripts/bench-lambdas.py`): the stage is the Rust crate `lambdas/gold-analytics`;
this port computes what `scripts/bench/gold.py` (the pandas port) computes, with the same formulas and
season-to-date aggregates (as documented in the crate's `src/lib.rs`), null (`None` in the dump) where a
denominator is zero, and the same consistency checks, so that speed and memory can be compared on the same
silver Parquet. The bench checks that it gives the same rows and values as the Rust stage.

    python gold_polars.py day DIR DATE [DUMP]     # one date with its season context (it and every earlier date)
    python gold_polars.py season DIR [DUMP]       # every date of the season, computed as a whole

`DIR` is laid out as the silver bucket (`silver/{table}/season={season}/date={date}/data.parquet`).
Prints one JSON line like `gold.py` (`read_s`: the silver objects read into two DataFrames, `compute_s`: the
checks and the analytics as DataFrames; the dump, when asked for, is written after the timing).
Season-to-date aggregates: `day` groups the rows of every date read (they all count), `season` sums per id
and date and takes cumulative sums over the dates per id, joined back on (id, date), so each date gets the
totals of the dates up to and including it.
"""

import json
import sys
import time

import polars as pl


from layout import PLAYER_COLUMNS, TEAM_COLUMNS, path, workload, write_records  # noqa: E402


# The columns used, with silver's types as Polars types.
POLARS = {"date32[day]": pl.Date, "string": pl.String, "int64": pl.Int64, "int32": pl.Int32, "bool": pl.Boolean,
          "double": pl.Float64}
PLAYER_TYPES = {c: POLARS[t] for c, t in PLAYER_COLUMNS.items()}
TEAM_TYPES = {c: POLARS[t] for c, t in TEAM_COLUMNS.items()}


def read(table, types, root, dates):
    """The silver objects of `table` for `dates` as one DataFrame: the columns used, `_day` (the date of the
    object's path) and `_row` (the row's position in the concatenation, in date order: the rows' order). The
    columns must have silver's types and no nulls (Polars itself refuses objects whose schemas differ)."""
    files = [path(root, table, d) for d in dates]
    scan = pl.scan_parquet(files, hive_partitioning=False, include_file_paths="_file", row_index_name="_row")
    schema = scan.collect_schema()  # the first object's footer
    for column, expected in types.items():
        if column not in schema:
            raise ValueError(f"{table}: column `{column}` is missing")
        if schema[column] != expected:
            raise ValueError(f"{table}: column `{column}` is {schema[column]}, expected {expected}")
    # The object -> date map joined on the path column (cheaper than a per-row replace).
    days = pl.LazyFrame({"_file": files, "_day": dates}, schema={"_file": pl.String, "_day": pl.Date})
    try:
        df = (scan.select("_row", "_file", *types).join(days, on="_file", maintain_order="left")
              .select("_row", "_day", *types).collect())
    except pl.exceptions.SchemaError as e:  # an object whose schema differs from the first's
        raise ValueError(f"{table}: {e}") from None
    nulls = df.select(pl.col(*types).null_count()).row(0)
    for column, count in zip(types, nulls):
        if count:
            raise ValueError(f"{table}: column `{column}` has a null")
    return df


def ratio(num, den):
    """num / den where den > 0, null elsewhere."""
    return pl.when(den > 0.0).then(num / den)


def f64(name):
    return pl.col(name).cast(pl.Float64)


def attempts(fga, fta):
    """FGA + 0.44 x FTA (as f64, like the Rust stage)."""
    return f64(fga) + 0.44 * f64(fta)


def first(df, condition, *columns):
    """The first row of `df` (in its order) where `condition` holds, as a tuple of `columns`, or None."""
    rows = df.filter(condition).head(1).select(*columns).rows()
    return rows[0] if rows else None


def checks(season, players, team_games):
    """gold.py's consistency checks in its order: (query for the first offending row, message), the queries lazy,
    to be collected with the analytics (one parallel pass)."""
    out = []
    for table, df in (("player_stats", players), ("team_stats", team_games)):
        df = df.lazy()
        out.append((df.filter(pl.col("game_date") != pl.col("_day")).head(1).select("game_date"),
                    f"a row of {table} is for {{0}}"))
        out.append((df.filter(pl.col("season") != season).head(1).select("season"),
                    f"rows of season {{0}} in a date of season {season}"))
    # Every (date, game) has exactly two team rows, of distinct teams (`team_games` counted them on every row); the
    # first such game in (date, game id) order.
    bad = (pl.col("game_rows") != 2) | (pl.col("low_team") == pl.col("high_team"))
    out.append((team_games.lazy().filter(bad).sort("_day", "game_id").head(1).select("_day", "game_id", "game_rows"),
                "{0}: game {1} has {2} team row(s) in team_stats, expected 2"))
    return out


def compute(players, teams, targets, cumulative, season):
    """The analytics of the dates `targets` (an expression on `_day`) as (player_out, team_out), in input order.
    Season-to-date context: every row of `players`/`teams` up to and including the row's date; `cumulative` False
    when every row read counts (one date: plain totals)."""
    game = ["_day", "game_id"]
    # Each team row with its game: the game's rows and teams (for the check), the opponent's points (the other
    # row of the pair: the pair's sum minus its own) and the game's possessions (the mean of both teams').
    own_possessions = (attempts("field_goals_attempted", "free_throws_attempted") - f64("rebounds_offensive")
                       + f64("turnovers"))
    # Materialized: the checks, the season totals and the team rows read it.
    team_games = teams.with_columns(
        game_rows=pl.len().over(game), low_team=pl.col("team_id").min().over(game),
        high_team=pl.col("team_id").max().over(game),
        opponent_points=pl.col("points").cast(pl.Int64).sum().over(game) - pl.col("points"),
        possessions=own_possessions.sum().over(game) / 2.0)

    # Season-to-date totals per id (players: of the rows where the player played): with `cumulative`, the totals
    # of each (id, date), then running sums over the dates (sorted by id and date: `cum_sum().over(id)` runs in
    # date order); else the totals of every row read.
    def season_totals(df, id_, aggregates):
        if not cumulative:
            return df.lazy().group_by(id_).agg(**aggregates)
        return (df.lazy().group_by(id_, "_day").agg(**aggregates).sort(id_, "_day")
                .with_columns(pl.col(*aggregates).cum_sum().over(id_)))

    played = pl.col("played")
    player_season = season_totals(players, "player_id", {
        "season_games": played.sum().cast(pl.Int32),
        "season_points": pl.col("points").filter(played).cast(pl.Int64).sum(),
        "season_fga": pl.col("field_goals_attempted").filter(played).cast(pl.Int64).sum(),
        "season_fta": pl.col("free_throws_attempted").filter(played).cast(pl.Int64).sum()})
    team_season = season_totals(team_games, "team_id", {
        "season_games": pl.len().cast(pl.Int32), "season_points": pl.col("points").cast(pl.Int64).sum(),
        "season_opponent_points": pl.col("opponent_points").sum(), "season_possessions": pl.col("possessions").sum()})
    keys = ["_day"] if cumulative else []

    offensive = ratio(100.0 * f64("points"), pl.col("possessions"))
    defensive = ratio(100.0 * f64("opponent_points"), pl.col("possessions"))
    team_out = (
        team_games.lazy().filter(targets).join(team_season, on=["team_id", *keys], how="left")
        .select(
            "_row", "game_date", "season", "team_id", "team_tricode", "game_id", "points",
            pace=ratio(48.0 * pl.col("possessions"), pl.col("minutes") / 5.0),
            offensive_rating=offensive, defensive_rating=defensive, net_rating=offensive - defensive,
            true_shooting_pct=ratio(f64("points"), 2.0 * attempts("field_goals_attempted", "free_throws_attempted")),
            effective_fg_pct=ratio(f64("field_goals_made") + 0.5 * f64("three_pointers_made"),
                                   f64("field_goals_attempted")),
            assist_turnover_ratio=ratio(f64("assists"), f64("turnovers")),
            season_games="season_games",
            season_net_rating=ratio(100.0 * (f64("season_points") - f64("season_opponent_points")),
                                    pl.col("season_possessions")))
        .sort("_row"))

    # Players of the target dates with their team's row (left join: a player without one is reported below).
    team_cols = teams.select("_day", "game_id", "team_id", team_row="_row", team_minutes="minutes",
                             team_fga="field_goals_attempted", team_fta="free_throws_attempted",
                             team_tov="turnovers")
    player_out = (
        players.lazy().filter(targets)
        .join(team_cols.lazy(), on=["_day", "game_id", "team_id"], how="left")
        .join(player_season, on=["player_id", *keys], how="left")
        .select(
            "_row", "team_row", "game_id", "game_date", "season", "player_id", "player_name", "team_id", "minutes",
            "points",
            true_shooting_pct=ratio(f64("points"), 2.0 * attempts("field_goals_attempted", "free_throws_attempted")),
            effective_fg_pct=ratio(f64("field_goals_made") + 0.5 * f64("three_pointers_made"),
                                   f64("field_goals_attempted")),
            # 100 x player plays x (team minutes / 5) / (minutes x team plays), plays = FGA + 0.44 FTA + TOV
            usage_rate=ratio(
                100.0 * (attempts("field_goals_attempted", "free_throws_attempted") + f64("turnovers"))
                * (pl.col("team_minutes") / 5.0),
                pl.col("minutes") * (attempts("team_fga", "team_fta") + f64("team_tov"))),
            assist_turnover_ratio=ratio(f64("assists"), f64("turnovers")),
            season_games="season_games",
            season_points_per_game=ratio(f64("season_points"), f64("season_games")),
            season_true_shooting_pct=ratio(f64("season_points"), 2.0 * attempts("season_fga", "season_fta")))
        .sort("_row"))
    found = checks(season, players, team_games)
    *failed, player_out, team_out = pl.collect_all([query for query, _ in found] + [player_out, team_out])
    for (_, message), rows in zip(found, failed):
        if len(rows):
            raise ValueError(message.format(*rows.row(0)))
    row = first(player_out, pl.col("team_row").is_null(), "game_date", "player_id", "team_id", "game_id")
    if row:
        raise ValueError(f"{row[0]}: player {row[1]} of team {row[2]} in game {row[3]} has no team row in team_stats")
    return player_out, team_out


PLAYER_COLUMNS = ["game_date", "season", "player_id", "player_name", "team_id", "minutes", "points",
                  "true_shooting_pct", "effective_fg_pct", "usage_rate", "assist_turnover_ratio", "season_games",
                  "season_points_per_game", "season_true_shooting_pct"]
TEAM_COLUMNS = ["game_date", "season", "team_id", "team_tricode", "game_id", "points", "pace", "offensive_rating",
                "defensive_rating", "net_rating", "true_shooting_pct", "effective_fg_pct", "assist_turnover_ratio",
                "season_games", "season_net_rating"]


def dump(out, player_out, team_out):
    """JSON lines as gold.py writes them: per date, its players then its teams, each in input order."""
    rows = {}
    for table, df, columns in (("player", player_out, PLAYER_COLUMNS), ("team", team_out, TEAM_COLUMNS)):
        for record in df.select(columns).iter_rows(named=True):
            record = {"table": table, **record}
            record["game_date"] = str(record["game_date"])
            rows.setdefault(record["game_date"], {"player": [], "team": []})[table].append(record)
    write_records(out, rows)


def main():
    started = time.perf_counter()
    mode, root, season, dates, date, dump_to = workload(sys.argv, __doc__)
    if mode == "day":
        targets, cumulative = pl.col("_day") == date, False
    else:
        targets, cumulative = pl.lit(True), True
    players = read("player_stats", PLAYER_TYPES, root, dates)
    teams = read("team_stats", TEAM_TYPES, root, dates)
    read_s = time.perf_counter() - started
    t0 = time.perf_counter()
    player_out, team_out = compute(players, teams, targets, cumulative, season)
    compute_s = time.perf_counter() - t0
    total_s = time.perf_counter() - started
    if dump_to:
        with open(dump_to, "w") as f:
            dump(f, player_out, team_out)
    print(json.dumps({"dates": len(dates), "objects": 2 * len(dates), "player_rows": len(players),
                      "team_rows": len(teams), "out_player_rows": len(player_out), "out_team_rows": len(team_out),
                      "read_s": read_s, "compute_s": compute_s, "total_s": total_s}))


if __name__ == "__main__":
    main()
