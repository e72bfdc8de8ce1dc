"""The ledger's tables (SQLAlchemy Core). Alembic migrations create them; tests compare.

Money is an integer of nano-units (`cost_nanos`) plus `currency`: SUM() stays exact on
SQLite and PostgreSQL alike. Missing dimensions are stored as '' (never NULL) so that
unique keys and equality filters behave the same on both databases.

`usage` holds the records; the `rollup_*` tables hold daily sums at a few grains, written
behind the records: writers journal their changes in `rollup_pending` in their own
transaction, and a folder sums the journal into the rollups (rollups.py). Every table
that a query can read has the same measure columns, so one query builder serves them all.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from spendledger.records import TOKEN_COLUMNS

metadata = MetaData()

DIM = 200  # length of a dimension value

# Sums kept by every rollup and present, per record, on `usage`.
MEASURES: tuple[str, ...] = (
    "requests",
    *TOKEN_COLUMNS.values(),
    "cost_nanos",
    "unpriced_requests",
    "records",
)


def _measure_columns() -> list[Column[int]]:
    return [Column(name, BigInteger, nullable=False, default=0) for name in MEASURES]


# On PostgreSQL `usage` is partitioned by month of `start` (migration 0011, partitions.py):
# its primary key there is (id, start) and the unique index on key_hash is replaced by
# `usage_event_ids` below; the columns, (start, key) and the other indexes are the same.
usage = Table(
    "usage",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("start", DateTime(timezone=True), nullable=False),
    Column("key", String(400), nullable=False),
    Column("end", DateTime(timezone=True), nullable=True),
    Column("day", String(10), nullable=False),  # local date in the configured zone
    # the UTC date of the record's instant: the provider's daily bucket it falls in, which
    # decides whether a billed bucket covers it (see rollups.py), whatever zone `day` is in
    Column("utc_day", String(10), nullable=False),
    # an event's id, hashed to 64 bits: unique, so an event id is stored once whatever its
    # timestamp; NULL on revisable records (billed, manual), whose key is (start, key)
    Column("key_hash", BigInteger, nullable=True),
    Column("source", String(DIM), nullable=False),
    Column("basis", String(16), nullable=False),
    Column("provider", String(DIM), nullable=False),
    Column("account", String(DIM), nullable=False, default=""),
    Column("workspace", String(DIM), nullable=False, default=""),
    Column("project", String(DIM), nullable=False, default=""),
    Column("api_key_id", String(DIM), nullable=False, default=""),
    Column("model", String(DIM), nullable=False, default=""),
    Column("user", String(DIM), nullable=False, default=""),
    Column("feature", String(DIM), nullable=False, default=""),
    Column("customer", String(DIM), nullable=False, default=""),
    Column("tags", JSON, nullable=True),
    *_measure_columns(),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("pricing_status", String(16), nullable=False),
    Column("price_source", String(DIM), nullable=True),
    Column("service_tier", String(32), nullable=True),
    Column("batch", Boolean, nullable=False, default=False),
    Column("latency_ms", Integer, nullable=True),
    Column("status", String(16), nullable=True),
    Column("request_id", String(DIM), nullable=True),
    Column("written_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("start", "key", name="uq_usage_start_key"),
    Index("ix_usage_day", "day"),
    Index(  # SQLite; PostgreSQL: usage_event_ids
        "uq_usage_event_id",
        "key_hash",
        unique=True,
        sqlite_where=text("key_hash IS NOT NULL"),
        postgresql_where=text("key_hash IS NOT NULL"),
    ),
    # small: only the billed records, by their UTC day (the reconciliation's billed side,
    # reconcile/: a month's bill read without walking its metered events)
    Index(
        "ix_usage_billed_day",
        "utc_day",
        sqlite_where=text("basis = 'billed'"),
        postgresql_where=text("basis = 'billed'"),
    ),
    # small: the manual and the billed records by local day, which the showback's shared
    # pools read (seat subscriptions, non-token line items) without walking the metered
    # events; events never enter them, so they cost ingest nothing (0010)
    Index(
        "ix_usage_manual_day",
        "day",
        sqlite_where=text("basis = 'manual'"),
        postgresql_where=text("basis = 'manual'"),
    ),
    Index(
        "ix_usage_billed_local_day",
        "day",
        sqlite_where=text("basis = 'billed'"),
        postgresql_where=text("basis = 'billed'"),
    ),
    # small: only the records waiting for a price (`prices unpriced`, `prices reprice`)
    Index(
        "ix_usage_unpriced",
        "provider",
        "model",
        sqlite_where=text("pricing_status = 'unpriced'"),
        postgresql_where=text("pricing_status = 'unpriced'"),
    ),
)


# PostgreSQL only (migration 0011, store/partitions.py): `usage` is partitioned by month
# of `start` there, and a unique index cannot span partitions, so every stored event's
# key_hash is claimed here first (store/bulk.py); triggers forget the ids of records
# deleted or truncated through `usage`. SQLite keeps the unique index on usage.key_hash.
usage_event_ids = Table(
    "usage_event_ids",
    metadata,
    Column("key_hash", BigInteger, primary_key=True, autoincrement=False),
)


# The grains: each lists its dimensions (besides day, basis, covered and currency). A
# query is answered from the first grain whose dimensions cover its filters and
# group-bys; provider and account are in every grain because "best available" needs them.
GRAINS: dict[str, tuple[str, ...]] = {
    # smallest first: totals and provider/account breakdowns over long periods read
    # ~10x fewer rows here than in rollup_model (bench/query.py: 2-year queries)
    "rollup_provider": ("provider", "account"),
    "rollup_model": ("provider", "account", "workspace", "project", "model"),
    # a customer (tenant) holds its users: keyed by both, the grain is hardly larger than by
    # user alone, and customer queries need no table of their own (0007)
    "rollup_user": ("provider", "account", "user", "customer"),
    "rollup_feature": ("provider", "account", "feature"),
    "rollup_key": ("provider", "account", "workspace", "project", "api_key_id"),
}
# Each grain is kept per local day and, in its `_month` twin, per local month (`day` holds
# the month's first day): whole months of a long period are read from the twin, ~30x
# fewer rows (bench/query.py: two years by user, 958 ms -> see README).
MONTHLY: dict[str, str] = {name: f"{name}_month" for name in GRAINS}


def rollup_key(dims: tuple[str, ...], *, daily: bool = True) -> tuple[str, ...]:
    """A rollup row's unique key. `covered` is 1 on metered rows that billed records cover
    (see rollups.py, "best available"), else 0. A daily row also keeps the UTC day of its
    records (`utc_day`: the provider bucket they fall in; in a zone other than UTC a local
    day spans two), so coverage can move with the bucket; a monthly row does not need it."""
    return ("day", *(("utc_day",) if daily else ()), *dims, "basis", "covered", "currency")


def _rollup(name: str, dims: tuple[str, ...], *, daily: bool) -> Table:
    # the daily tables' index serves coverage look-ups and moves (basis, utc_day, provider,
    # account); the monthly twins are small enough without it
    indexes = [Index(f"ix_{name}_basis_day", "basis", "utc_day", "provider", "account")] if daily else []
    return Table(
        name,
        metadata,
        Column("day", String(10), nullable=False),
        *((Column("utc_day", String(10), nullable=False),) if daily else ()),
        *(Column(d, String(DIM), nullable=False) for d in dims),
        Column("basis", String(16), nullable=False),
        Column("covered", SmallInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        *_measure_columns(),
        # the key is the primary key of a WITHOUT ROWID table on SQLite: rows sit in key
        # order (day first), so a period's rows are read in one sweep with no look-ups
        # (bench/query.py: a year by feature and day, 45 ms -> 25 ms)
        PrimaryKeyConstraint(*rollup_key(dims, daily=daily), name=f"pk_{name}"),
        *indexes,
        sqlite_with_rowid=False,
    )


# every rollup table, daily grains and their monthly twins, by name
rollups: dict[str, Table] = {
    table_name: _rollup(table_name, dims, daily=daily)
    for name, dims in GRAINS.items()
    for table_name, daily in ((name, True), (MONTHLY[name], False))
}


# The rollups' journal: what writers changed and the folder has not summed into the rollups
# yet (rollups.py, "write-behind"), as signed rows at the finest rollup key, `covered`
# decided by the writer. Rows are only ever inserted (by writers) and deleted (by the
# folder, in the transaction that adds them to the rollups); a read sums the rollups and
# these rows in one statement.
rollup_pending = Table(
    "rollup_pending",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("day", String(10), nullable=False),
    Column("utc_day", String(10), nullable=False),
    *(
        Column(d, String(DIM), nullable=False)
        for d in dict.fromkeys(d for dims in GRAINS.values() for d in dims)
    ),
    Column("basis", String(16), nullable=False),
    Column("covered", SmallInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    *_measure_columns(),
)

# Who folds the journal: one row per lease ("fold"), held by `holder` until `expires_at`;
# a folder takes it when it is free or expired, and renews it in each fold's transaction.
leases = Table(
    "leases",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Which account of a provider a project or API key belongs to, learnt from the billed
# records of that account (a billing source lists its own projects and keys): a metered
# record with no account is attributed to the one account its project or key belongs to.
account_members = Table(
    "account_members",
    metadata,
    Column("provider", String(DIM), nullable=False),
    Column("dimension", String(16), nullable=False),  # project | api_key_id
    Column("value", String(DIM), nullable=False),
    Column("account", String(DIM), nullable=False),
    PrimaryKeyConstraint("provider", "dimension", "value", "account", name="pk_account_members"),
)


price_overrides = Table(
    "price_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(DIM), nullable=False),  # '' or '*' matches every provider
    Column("model_pattern", String(DIM), nullable=False),  # fnmatch pattern, case-insensitive
    Column("effective_from", DateTime(timezone=True), nullable=True),
    Column("effective_to", DateTime(timezone=True), nullable=True),  # exclusive
    Column("prices", JSON, nullable=False),  # {"input_mtok": "0.5", ...} as decimal strings
    Column("currency", String(3), nullable=False, default="USD"),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(DIM), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),  # last characters, to tell tokens apart
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


settings_kv = Table(
    "ledger_meta",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)


# A provider account the ledger syncs from. The credential is sealed (Fernet, see
# secrets.py): only ciphertext and a masked hint are stored.
sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(DIM), nullable=False, unique=True),
    Column("provider", String(50), nullable=False),
    Column("options", JSON, nullable=False),  # {"base_url": ..., "project_ids": ...}
    Column("credential", Text, nullable=False),  # sealed
    Column("key_hint", String(40), nullable=False),  # "sk-admin…a1b2"
    Column("backfill_days", Integer, nullable=False, default=90),
    Column("interval_minutes", Integer, nullable=False, default=60),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the end of the last fully synced UTC day: the next sync starts 3 days before it
    Column("synced_until", DateTime(timezone=True), nullable=True),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
    Column("last_status", String(16), nullable=True),  # ok | failed | running (interrupted: read so)
    Column("last_error", Text, nullable=True),
    # a lease: the process syncing the source, until when (see store/sources.py)
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
)


sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(DIM), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),  # running | ok | failed | interrupted
    Column("pages", Integer, nullable=False, default=0),
    Column("records", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Index("ix_sync_runs_source", "source", "started_at"),
)


ROLES: tuple[str, ...] = ("admin", "member", "viewer")

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # admin | member | viewer
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
)

# What a member may see: spend of these projects or users ("project", "support-bot").
# A member with no grant sees only the spend recorded under their own email as user.
user_grants = Table(
    "user_grants",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("dimension", String(16), primary_key=True),  # project | user
    Column("value", String(DIM), primary_key=True),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie's token
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# failed logins, for rate limiting (by email and by client address)
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("client", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_login_failures_email_at", "email", "at"),
    Index("ix_login_failures_client_at", "client", "at"),
)


PERIODS: tuple[str, ...] = ("monthly", "weekly", "daily", "quarterly", "custom")

# A spending limit on a slice of the ledger, read through queries.spend in calendar
# windows of the configured zone (see budgets.py for the window semantics).
budgets = Table(
    "budgets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(DIM), nullable=False, unique=True),
    Column("scope", JSON, nullable=False),  # {"provider": ["openai"], ...}; {} is everything
    Column("amount_nanos", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("period", String(16), nullable=False, default="monthly"),  # one of PERIODS
    Column("custom_start", String(10), nullable=True),  # local dates of a custom window
    Column("custom_end", String(10), nullable=True),  # inclusive
    Column("thresholds", JSON, nullable=False),  # percentages, e.g. [50, 80, 100]
    Column("basis", String(16), nullable=False, default="best"),  # best | billed | metered
    Column("channels", JSON, nullable=False),  # names of notification channels
    Column("created_at", DateTime(timezone=True), nullable=False),
)


ALERT_KINDS: tuple[str, ...] = ("threshold", "forecast", "anomaly", "balance")
ALERT_STATUSES: tuple[str, ...] = ("open", "acknowledged", "resolved")

# An alert a budget raised (see alerts.py): once per budget, kind, threshold and window,
# which the unique key enforces across processes. A forecast alert's threshold is 100.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # the budget's name; for an anomaly its subject as a filter, "model:gpt-4o"
    Column("budget", String(DIM), nullable=False),
    Column("kind", String(16), nullable=False),  # one of ALERT_KINDS
    Column("threshold", Integer, nullable=False),  # percent of the amount; 100 for forecast
    Column("window_start", String(10), nullable=False),  # local dates, both included
    Column("window_end", String(10), nullable=False),
    # {"spent": "412.50", "amount": "500", "percent": "82.5", "projected": ..., "low": ..., "high": ...}
    Column("figures", JSON, nullable=False),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("status", String(16), nullable=False, default="open"),  # one of ALERT_STATUSES
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_by", String(320), nullable=True),  # an email
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("note", Text, nullable=True),  # an anomaly's words: its driver and likely causes
    UniqueConstraint("budget", "kind", "threshold", "window_start", name="uq_alerts_once"),
    Index("ix_alerts_status", "status", "created_at"),
)


DELIVERY_STATUSES: tuple[str, ...] = ("sending", "sent", "failed")  # sending: claimed, not done

# Where alerts are sent (see notify.py): an Apprise URL (or a webhook URL), sealed like a
# source's key (secrets.py) since it often holds a token or password; `url_hint` is the
# masked form shown in the CLI and pages.
channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(DIM), nullable=False, unique=True),
    Column("url", Text, nullable=False),  # sealed
    Column("url_hint", String(DIM), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# An alert sent (or not) to a channel: once per alert and channel, with the attempts made
# and the last error when every attempt failed.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(DIM), nullable=False),
    Column("status", String(16), nullable=False),  # one of DELIVERY_STATUSES
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("alert_id", "channel", name="uq_deliveries_once"),
)


# A balance-only source's balance (sources/balance.py), one row per currency and reading,
# taken on every sync: the spend is derived from the drops between them (store/balances.py).
# The parts are NULL when the provider does not split its balance.
balance_readings = Table(
    "balance_readings",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("source", String(DIM), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("total_nanos", BigInteger, nullable=False),
    Column("granted_nanos", BigInteger, nullable=True),
    Column("topped_up_nanos", BigInteger, nullable=True),
    UniqueConstraint("source", "currency", "at", name="uq_balance_readings_once"),
)

# "Alert when the balance of this source drops below X": raised as an alert of kind
# "balance" (alerts/balance.py) and sent to `channels` (none: every channel).
balance_rules = Table(
    "balance_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(DIM), nullable=False, unique=True),
    Column("source", String(DIM), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("below_nanos", BigInteger, nullable=False),
    Column("channels", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


# Who changed what, and when (store/audit.py): deletions of records and the admin's
# changes (sources, budgets, prices, manual entries). Written in the transaction of the
# change it records; never updated. `amount` is the money involved, per currency, as
# exact decimal strings ({"USD": "12.50"}), or NULL when none is.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(320), nullable=False),  # an email, "cli:LOGIN" or "token:NAME"
    Column("action", String(64), nullable=False),  # noun.verb: "records.delete", "budget.add"
    Column("what", JSON, nullable=False),
    Column("amount", JSON, nullable=True),
    Index("ix_audit_log_at", "at"),
)


# A recurring seat subscription (ingest/subscriptions.py): seats × price per seat each
# billing period, written to `usage` as manual records of source "subscriptions". The
# price is per seat and interval (monthly | annual); dates are local ISO days, `ends`
# the last day paid for (inclusive). Its seat counts, dated, are in subscription_seats.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(DIM), nullable=False, unique=True),
    Column("provider", String(DIM), nullable=False),
    Column("plan", String(100), nullable=False, default=""),  # a preset's name, or ''
    Column("price_nanos", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("interval", String(16), nullable=False, default="monthly"),
    Column("billing_day", SmallInteger, nullable=False),
    Column("starts", String(10), nullable=False),
    Column("ends", String(10), nullable=True),
    Column("account", String(DIM), nullable=False, default=""),
    Column("project", String(DIM), nullable=False, default=""),
    Column("user", String(DIM), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# How many seats a subscription pays for from a day on (the first row is its start).
subscription_seats = Table(
    "subscription_seats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("from_day", String(10), nullable=False),
    Column("seats", Integer, nullable=False),
    UniqueConstraint("subscription_id", "from_day", name="uq_subscription_seats_day"),
)

# A scheduled digest (reports/digests.py): a weekly or monthly summary sent to a channel;
# removing the channel removes its digests.
digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # weekly | monthly
    Column("channel", String(DIM), ForeignKey("channels.name", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "channel", name="uq_digests_kind_channel"),
)

# A digest sent (or not) for a period ("2026-11", "2026-W47") to a channel: claimed once,
# before sending, as `deliveries` are for alerts; kept when the channel goes (the log).
digest_sends = Table(
    "digest_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("period", String(16), nullable=False),
    Column("channel", String(DIM), nullable=False),
    Column("status", String(16), nullable=False),  # sending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("kind", "period", "channel", name="uq_digest_sends_once"),
)

# A month the reconciliation closed (reconcile/closing.py): an admin accepted its billed and
# metered figures; later changes to the month's records are shown against the figures kept
# here. `figures` holds, per UTC day, provider, account and currency, the billed and metered
# money as exact decimal strings: [{"day": ..., "provider": ..., "billed": "12.50", ...}].
reconcile_closed_months = Table(
    "reconcile_closed_months",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM, of UTC days (the providers' bills)
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("closed_by", String(320), nullable=False),  # an email, "cli:LOGIN" or "token:NAME"
    Column("figures", JSON, nullable=False),
)

# Dated exchange rates the user controls (fx/rates.py): on `day`, 1 `base` = `rate` units
# of `currency`. The rate is its exact decimal text (never a float); `source` says where it
# came from ("ecb", "file:NAME", "manual"); a manual rate is never replaced by an import.
fx_rates = Table(
    "fx_rates",
    metadata,
    Column("day", String(10), nullable=False),
    Column("base", String(3), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rate", String(40), nullable=False),
    Column("source", String(DIM), nullable=False),
    PrimaryKeyConstraint("base", "currency", "day", name="pk_fx_rates"),
    Index("ix_fx_rates_currency_day", "currency", "day"),
)

# The names one thing has in different sources (store/aliases.py), read as one name at
# query time (store/mapped.py): "Support bot" in the OpenAI bills and "support-bot" in
# the tracker's calls are one project. `dimension` is where the one name (`canonical`)
# is reported; `found_in` the record field `name` is read from: the dimension itself,
# or `workspace` for a project (a workspace's records that have no project). `provider`
# and `account` narrow an alias to one provider or account ('' matches any).
aliases = Table(
    "aliases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dimension", String(16), nullable=False),
    Column("found_in", String(16), nullable=False),
    Column("provider", String(DIM), nullable=False, default=""),
    Column("account", String(DIM), nullable=False, default=""),
    Column("name", String(DIM), nullable=False),
    Column("canonical", String(DIM), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dimension", "found_in", "provider", "account", "name", name="uq_aliases_name"),
)

# The team a project belongs to: the `team` dimension (store/mapped.py), read at query
# time from the project as reports name it (after its aliases).
project_teams = Table(
    "project_teams",
    metadata,
    Column("project", String(DIM), primary_key=True),
    Column("team", String(DIM), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# How a shared cost is split among the groups of a showback (spendledger/showback.py):
# `what` is the pool (subscriptions | non-token | unattributed), `by` the dimension of
# the groups (team | project | customer), `split` even | proportional. One rule per
# pool and dimension.
allocation_rules = Table(
    "allocation_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(DIM), nullable=False, unique=True),
    Column("what", String(16), nullable=False),
    Column("by", String(16), nullable=False),
    Column("split", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("what", "by", name="uq_allocation_rules_pool"),
)
