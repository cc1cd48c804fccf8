"""Reference port of gold-analytics' computation to Python (pandas).

FOR BENCHMARKING ONLY (`scripts/bench-lambdas.py`): the stage is the Rust crate `lambdas/gold-analytics`;
this port follows its `compute` (formulas and season-to-date aggregates as documented in its `src/lib.rs`,
`None` where a denominator is zero, the same consistency checks) so that speed and memory can be compared
on the same silver Parquet. The bench checks that both give the same rows and values.

    python gold.py day DIR DATE [DUMP]     # one date with its season context, read as the handler reads it
    python gold.py season DIR [DUMP]       # every date of the season, each silver object read once

`DIR` is laid out as the silver bucket (`silver/{table}/season={season}/date={date}/data.parquet`).
Prints one JSON line like `bench_gold`.
"""

import datetime as dt
import json
import math
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq


from layout import PLAYER_COLUMNS, TEAM_COLUMNS, path, season_dates, season_of  # noqa: E402


def read(file, table, types, day):
    """A silver object as a DataFrame, every column read; the columns used must have silver's types and no nulls."""
    t = pq.read_table(file)
    for name, expected in types.items():
        if name not in t.column_names:
            raise ValueError(f"{table}: column `{name}` is missing")
        col = t.column(name)
        if str(col.type) != expected:
            raise ValueError(f"{table}: column `{name}` is {col.type}, expected {expected}")
        if col.null_count:
            raise ValueError(f"{table}: column `{name}` has a null")
    df = t.to_pandas(date_as_object=False)
    df["_day"] = pd.Timestamp(day)
    return df


def read_day(root, date):
    return (read(path(root, "player_stats", date), "player_stats", PLAYER_COLUMNS, date),
            read(path(root, "team_stats", date), "team_stats", TEAM_COLUMNS, date))


def ratio(num, den):
    """num / den where den > 0, NaN (None in the output) elsewhere."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    ok = den > 0.0
    np.divide(num, den, out=out, where=ok)
    return out


def shooting_attempts(fga, fta):
    return np.asarray(fga, dtype=float) + 0.44 * np.asarray(fta, dtype=float)


def possessions(df):
    return (shooting_attempts(df["field_goals_attempted"], df["free_throws_attempted"])
            - df["rebounds_offensive"].to_numpy(dtype=float) + df["turnovers"].to_numpy(dtype=float))


def team_games(teams):
    """For every team row (in its order): the opponent's row position and the game's possessions; each
    (date, game) must have two rows of distinct teams."""
    order = np.lexsort((teams["team_id"].to_numpy(), teams["game_id"].to_numpy(), teams["_day"].to_numpy()))
    day = teams["_day"].to_numpy()[order]
    game = teams["game_id"].to_numpy()[order]
    team = teams["team_id"].to_numpy()[order]
    n = len(order)
    # Group boundaries of (day, game) in sorted order; every group must be exactly a pair.
    starts = np.flatnonzero(np.r_[True, (day[1:] != day[:-1]) | (game[1:] != game[:-1])]) if n else np.array([], int)
    sizes = np.diff(np.r_[starts, n])
    if (sizes != 2).any() or (n and (team[starts] == team[starts + 1]).any()):
        k = int(np.flatnonzero((sizes != 2) | (team[starts] == team[np.minimum(starts + 1, n - 1)]))[0])
        raise ValueError(f"{day[starts[k]]}: game {game[starts[k]]} has {sizes[k]} team row(s) in team_stats, "
                         "expected 2")
    partner = np.empty(n, dtype=np.int64)
    partner[order[0::2]] = order[1::2]
    partner[order[1::2]] = order[0::2]
    own = possessions(teams)
    return partner, (own + own[partner]) / 2.0


def check_days(season, players, teams):
    for table, df in (("player_stats", players), ("team_stats", teams)):
        other = df["game_date"].to_numpy() != df["_day"].to_numpy()
        if other.any():
            raise ValueError(f"a row of {table} is for {df['game_date'].to_numpy()[other][0]}")
        other = df["season"].to_numpy() != season
        if other.any():
            raise ValueError(f"rows of season {df['season'].to_numpy()[other][0]} in a date of season {season}")


def compute(date, day, counted):
    """The analytics of `date` (`day` = its (players, teams)); `counted` = (players, teams) of the season's
    dates up to and including `date` (the season-to-date context)."""
    season = season_of(date)
    players, teams = day
    all_players, all_teams = counted
    check_days(season, all_players, all_teams)

    played = all_players[all_players["played"].to_numpy()]
    ps = played.groupby("player_id").agg(games=("points", "size"), points=("points", "sum"),
                                         fga=("field_goals_attempted", "sum"), fta=("free_throws_attempted", "sum"))
    partner, poss = team_games(all_teams)
    season_teams = pd.DataFrame({"team_id": all_teams["team_id"].to_numpy(),
                                 "points": all_teams["points"].to_numpy(dtype=np.int64),
                                 "opp": all_teams["points"].to_numpy(dtype=np.int64)[partner], "poss": poss})
    ts = season_teams.groupby("team_id").agg(games=("points", "size"), points=("points", "sum"),
                                             opp=("opp", "sum"), poss=("poss", "sum"))

    # Teams of the date.
    partner, poss = team_games(teams)
    pts = teams["points"].to_numpy()
    offensive = ratio(100.0 * pts, poss)
    defensive = ratio(100.0 * pts[partner], poss)
    s = ts.reindex(teams["team_id"].to_numpy())
    team_out = pd.DataFrame({
        "game_date": date, "season": season, "team_id": teams["team_id"].to_numpy(),
        "team_tricode": teams["team_tricode"].to_numpy(), "game_id": teams["game_id"].to_numpy(), "points": pts,
        "pace": ratio(48.0 * poss, teams["minutes"].to_numpy() / 5.0), "offensive_rating": offensive,
        "defensive_rating": defensive, "net_rating": offensive - defensive,
        "true_shooting_pct": ratio(pts, 2.0 * shooting_attempts(teams["field_goals_attempted"],
                                                                teams["free_throws_attempted"])),
        "effective_fg_pct": ratio(teams["field_goals_made"].to_numpy() + 0.5 * teams["three_pointers_made"].to_numpy(),
                                  teams["field_goals_attempted"].to_numpy()),
        "assist_turnover_ratio": ratio(teams["assists"].to_numpy(), teams["turnovers"].to_numpy()),
        "season_games": s["games"].fillna(0).to_numpy(dtype=np.int32),
        "season_net_rating": ratio(100.0 * (s["points"] - s["opp"]).to_numpy(dtype=float), s["poss"].fillna(0)),
    })

    # Players of the date, with their team's row.
    team_cols = ["game_id", "team_id", "field_goals_attempted", "free_throws_attempted", "turnovers", "minutes"]
    first_team = teams[team_cols].drop_duplicates(["game_id", "team_id"])
    p = players.merge(first_team, on=["game_id", "team_id"], how="left", suffixes=("", "_team"), validate="m:1")
    if p["minutes_team"].isna().any():
        row = p[p["minutes_team"].isna()].iloc[0]
        raise ValueError(f"{date}: player {row['player_id']} of team {row['team_id']} in game {row['game_id']} "
                         "has no team row in team_stats")
    ppts = p["points"].to_numpy()
    used = shooting_attempts(p["field_goals_attempted"], p["free_throws_attempted"]) + p["turnovers"].to_numpy()
    team_used = (shooting_attempts(p["field_goals_attempted_team"], p["free_throws_attempted_team"])
                 + p["turnovers_team"].to_numpy())
    s = ps.reindex(p["player_id"].to_numpy())
    games = s["games"].fillna(0).to_numpy()
    attempts = shooting_attempts(s["fga"].fillna(0), s["fta"].fillna(0))
    player_out = pd.DataFrame({
        "game_date": date, "season": season, "player_id": p["player_id"].to_numpy(),
        "player_name": p["player_name"].to_numpy(), "team_id": p["team_id"].to_numpy(),
        "minutes": p["minutes"].to_numpy(), "points": ppts,
        "true_shooting_pct": ratio(ppts, 2.0 * shooting_attempts(p["field_goals_attempted"],
                                                                 p["free_throws_attempted"])),
        "effective_fg_pct": ratio(p["field_goals_made"].to_numpy() + 0.5 * p["three_pointers_made"].to_numpy(),
                                  p["field_goals_attempted"].to_numpy()),
        "usage_rate": ratio(100.0 * used * (p["minutes_team"].to_numpy() / 5.0), p["minutes"].to_numpy() * team_used),
        "assist_turnover_ratio": ratio(p["assists"].to_numpy(), p["turnovers"].to_numpy()),
        "season_games": games.astype(np.int32),
        "season_points_per_game": ratio(s["points"].fillna(0).to_numpy(dtype=float), games),
        "season_true_shooting_pct": ratio(s["points"].fillna(0).to_numpy(dtype=float), 2.0 * attempts),
    })
    return player_out, team_out


def dump(out, player_out, team_out):
    for table, df in (("player", player_out), ("team", team_out)):
        for row in df.to_dict("records"):
            row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            row["game_date"] = str(row["game_date"])
            out.write(json.dumps({"table": table, **{k: (v.item() if hasattr(v, "item") else v)
                                                     for k, v in row.items()}}) + "\n")


def main():
    mode, root = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    outputs = []
    out_rows = [0, 0]
    if mode == "day":
        date = dt.date.fromisoformat(sys.argv[3])
        dump_to = sys.argv[4] if len(sys.argv) > 4 else None
        day = read_day(root, date)
        earlier = [read_day(root, d) for d in season_dates(root, season_of(date)) if d < date]
        days = earlier + [day]
        read_s = time.perf_counter() - started
        t0 = time.perf_counter()
        counted = (pd.concat([p for p, _ in days], ignore_index=True), pd.concat([t for _, t in days], ignore_index=True))
        result = compute(date, day, counted)
        compute_s = time.perf_counter() - t0
        out_rows = [len(result[0]), len(result[1])]
        outputs.append(result)
    elif mode == "season":
        dump_to = sys.argv[3] if len(sys.argv) > 3 else None
        dates = season_dates(root, "2024-25")
        days = [read_day(root, d) for d in dates]
        read_s = time.perf_counter() - started
        t0 = time.perf_counter()
        # The season's rows once, in date order; each date's context is a prefix of them.
        players = pd.concat([p for p, _ in days], ignore_index=True)
        teams = pd.concat([t for _, t in days], ignore_index=True)
        p_end = np.cumsum([len(p) for p, _ in days])
        t_end = np.cumsum([len(t) for _, t in days])
        for i, date in enumerate(dates):
            result = compute(date, days[i], (players.iloc[:p_end[i]], teams.iloc[:t_end[i]]))
            out_rows[0] += len(result[0])
            out_rows[1] += len(result[1])
            if dump_to:
                outputs.append(result)
        compute_s = time.perf_counter() - t0
    else:
        sys.exit(__doc__)
    total_s = time.perf_counter() - started
    if dump_to:
        with open(dump_to, "w") as f:
            for player_out, team_out in outputs:
                dump(f, player_out, team_out)
    print(json.dumps({"dates": len(days), "objects": 2 * len(days), "player_rows": sum(len(p) for p, _ in days),
                      "team_rows": sum(len(t) for _, t in days), "out_player_rows": out_rows[0],
                      "out_team_rows": out_rows[1], "read_s": read_s, "compute_s": compute_s, "total_s": total_s}))


if __name__ == "__main__":
    main()
