"""Rule key_accounts: the assignment of key accounts to reps."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _limit, _Log, _Plan, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """one owner per key account, eligibility, locks, book limits, key-account capacity."""
    eb_full = run.eb
    sc = pl.sc
    rule = sc.rules.key_accounts
    df = run.tables["assignments.csv"]
    keys = set(pl.key_ids)
    rep_set = set(pl.rep_ids.tolist())
    # structure: one row per key account, incumbents as in the accounts table, moved flag
    log.count("one_owner", len(pl.key_ids))
    counts = df.groupby("account_id").size()
    for a in pl.key_ids:
        n = int(counts.get(a, 0))
        if n != 1:
            owners = sorted(set(df.loc[df["account_id"] == a, "owner_rep"]))
            log.add(
                "one_owner",
                f"account {a}",
                "missing from assignments.csv"
                if n == 0
                else f"has {n} rows in assignments.csv (owners {', '.join(owners)})",
                abs(n - 1),
            )
    for a in sorted(set(df["account_id"]) - keys):
        log.add("one_owner", f"account {a}", "in assignments.csv but not a key account", 1)
    log.count("incumbent", len(df))
    log.count("moved", len(df))
    for row in df.itertuples(index=False):
        a, inc, own = str(row.account_id), str(row.incumbent_rep), str(row.owner_rep)
        if a in keys and inc != pl.key_incumbent.get(a, ""):
            log.add(
                "incumbent",
                f"account {a}",
                f"incumbent {inc or '(none)'} in assignments.csv, but "
                f"{pl.key_incumbent.get(a) or '(none)'} in the accounts table",
                1,
            )
        moved = str(row.moved).strip().lower() in ("true", "1", "yes")
        inc = pl.key_incumbent.get(a, inc)  # the accounts table decides who the incumbent is
        want = bool(inc) and bool(own) and inc != own
        if moved != want:
            log.add(
                "moved",
                f"account {a}",
                f"moved is {moved} but the owner is {own or '(none)'} and the incumbent "
                f"{inc or '(none)'}",
                1,
            )

    if not rule.enabled:
        log.count("alignment", len(pl.key_ids))
        for a in pl.key_ids:
            own, inc = run.owner.get(a, ""), pl.key_incumbent.get(a, "")
            if a in run.owner and own != inc:
                log.add(
                    "alignment",
                    f"account {a}",
                    f"key_accounts is off, so the account stays with its incumbent "
                    f"{inc or '(none)'}, but the owner is {own or '(none)'}",
                    1,
                )
        return

    # eligibility: candidates table, or the incumbent's team; forbidden pairs removed
    team = dict(zip(pl.reps["rep_id"], pl.reps["team_id"], strict=True))
    ds_cand = pl.candidates
    forbidden = {(p.account, p.rep) for p in rule.forbidden}
    load = {r: 0.0 for r in pl.rep_ids}
    n_acc = {r: 0 for r in pl.rep_ids}
    log.count("eligible", len(pl.key_ids))
    for a in pl.key_ids:
        own = run.owner.get(a, "")
        if a in run.owner and not own:
            log.add("one_owner", f"account {a}", "has no owner in assignments.csv", 1)
        if not own:
            continue
        if ds_cand is not None:
            ok = (a, own) in ds_cand
            why = "not a pair of the candidates table"
            work = ds_cand.get((a, own), 1.0)
        else:
            inc = pl.key_incumbent.get(a, "")
            ok = own in rep_set and bool(inc) and team.get(own) == team.get(inc)
            why = f"not in the team of the incumbent {inc or '(none)'}"
            work = 1.0
        if (a, own) in forbidden:
            ok, why = False, "a forbidden pair"
        if not ok:
            log.add("eligible", f"account {a}", f"owner {own} is {why}", 1)
        if own in load:
            load[own] += work
            n_acc[own] += 1
    log.count("lock", len(rule.locked))
    for p in rule.locked:
        if p.account in keys and run.owner.get(p.account, "") != p.rep:
            now = run.owner.get(p.account) or "(none)"
            log.add(
                "lock", f"account {p.account}", f"locked to rep {p.rep}, but the owner is {now}", 1
            )
    lim_n = _limit(pl.reps["max_accounts"], rule.max_accounts)
    lim_w = _limit(pl.reps["max_workload"], rule.max_workload)
    have_n = np.array([n_acc[r] for r in pl.rep_ids], dtype=float)
    have_w = np.array([load[r] for r in pl.rep_ids], dtype=float)
    for name, have, lim, what in (
        ("max_accounts", have_n, lim_n, "key accounts"),
        ("max_workload", have_w, lim_w, "key-account workload"),
    ):
        sel = np.flatnonzero(np.isfinite(lim))
        log.bound(
            name,
            _where(rep=pl.rep_ids[sel]),
            have[sel],
            lim[sel],
            "le",
            what=what,
            against="the limit",
            cents=0,
        )
    pr = sc.rules.potential
    if pr.enabled and pr.min_share > 0 and sc.rules.capacity.enabled:
        log.bound(
            "ka_capacity",
            _where(rep=pl.rep_ids),
            pr.min_share * eb_full.sum(axis=1),
            pl.cap,
            "le",
            what=f"{pr.min_share:g} × effective base (with key accounts)",
            against="capacity",
            cents=0,
        )
