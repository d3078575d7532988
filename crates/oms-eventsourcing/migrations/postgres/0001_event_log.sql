-- The event log of one service, with its outbox, inbox, command replies and snapshots.
-- Every table lives in the service's own schema (set through search_path).

CREATE TABLE events (
    position        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       TEXT        NOT NULL,
    version         BIGINT      NOT NULL,
    event_id        UUID        NOT NULL,
    event_type      TEXT        NOT NULL,
    schema_version  SMALLINT    NOT NULL,
    payload         BYTEA       NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    correlation_id  UUID,
    causation_id    UUID,
    traceparent     TEXT,
    -- Optimistic concurrency: exactly one event can take each version of a stream.
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);

-- Integration messages written in the same transaction as the events they announce.
-- `tx` is the writing transaction's id: the relay only reads rows of transactions older
-- than every transaction still running, so a row committed late is never skipped.
CREATE TABLE outbox (
    id            BIGINT GENERATED ALWAYS AS IDENTITY,
    tx            BIGINT      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    message_id    UUID        NOT NULL,
    topic         TEXT        NOT NULL,
    message_key   TEXT        NOT NULL,
    message_type  TEXT        NOT NULL,
    payload       BYTEA       NOT NULL,
    headers       TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tx, id)
);

-- How far the relay to the broker has got.
CREATE TABLE relay_cursors (
    relay  TEXT PRIMARY KEY,
    tx     BIGINT NOT NULL,
    id     BIGINT NOT NULL
);

-- Per consumer and source (a topic partition or a publisher's outbox): the position of
-- the last message applied. One row per source, not per message.
CREATE TABLE inbox_checkpoints (
    consumer  TEXT   NOT NULL,
    source    TEXT   NOT NULL,
    tx        BIGINT NOT NULL,
    id        BIGINT NOT NULL,
    PRIMARY KEY (consumer, source)
);

-- Messages applied by id, for sources whose messages carry no usable position.
CREATE TABLE inbox_messages (
    consumer     TEXT        NOT NULL,
    message_id   TEXT        NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, message_id)
);

-- The first answer to a command sent with an idempotency key.
CREATE TABLE command_replies (
    idempotency_key  TEXT PRIMARY KEY,
    reply            BYTEA       NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL
);

-- A disposable cache of the in-memory state at a log position.
CREATE TABLE snapshots (
    name            TEXT PRIMARY KEY,
    position        BIGINT      NOT NULL,
    schema_version  INTEGER     NOT NULL,
    state           BYTEA       NOT NULL,
    taken_at        TIMESTAMPTZ NOT NULL
);
