-- Messages a consumer received before what they depend on: kept, and retried later.
-- They are written in the transaction that records the message as received, and deleted in
-- the transaction that finally applies them.
CREATE TABLE parked_messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer   TEXT        NOT NULL,
    message    BYTEA       NOT NULL,
    reason     TEXT        NOT NULL,
    parked_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX parked_messages_consumer ON parked_messages (consumer, id);
