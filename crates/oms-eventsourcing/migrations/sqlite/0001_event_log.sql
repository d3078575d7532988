-- The event log of one service, with its outbox, inbox, command replies and snapshots.
-- SQLite has one writer at a time, so row ids are assigned in commit order.
-- Times are microseconds since the Unix epoch, so they compare as numbers.

CREATE TABLE events (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id       TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    event_id        BLOB    NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    recorded_at     INTEGER    NOT NULL,
    correlation_id  BLOB,
    causation_id    BLOB,
    traceparent     TEXT,
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    BLOB    NOT NULL,
    topic         TEXT    NOT NULL,
    message_key   TEXT    NOT NULL,
    message_type  TEXT    NOT NULL,
    payload       BLOB    NOT NULL,
    headers       TEXT,
    created_at    INTEGER    NOT NULL
);

CREATE TABLE relay_cursors (
    relay  TEXT PRIMARY KEY,
    tx     INTEGER NOT NULL,
    id     INTEGER NOT NULL
);

CREATE TABLE inbox_checkpoints (
    consumer  TEXT    NOT NULL,
    source    TEXT    NOT NULL,
    tx        INTEGER NOT NULL,
    id        INTEGER NOT NULL,
    PRIMARY KEY (consumer, source)
);

CREATE TABLE inbox_messages (
    consumer     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL,
    PRIMARY KEY (consumer, message_id)
);

CREATE TABLE command_replies (
    idempotency_key  TEXT PRIMARY KEY,
    reply            BLOB NOT NULL,
    recorded_at      INTEGER NOT NULL
);

CREATE TABLE snapshots (
    name            TEXT PRIMARY KEY,
    position        INTEGER NOT NULL,
    schema_version  INTEGER NOT NULL,
    state           BLOB    NOT NULL,
    taken_at        INTEGER    NOT NULL
);
