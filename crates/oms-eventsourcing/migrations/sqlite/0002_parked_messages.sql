-- Messages a consumer received before what they depend on: kept, and retried later.
CREATE TABLE parked_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer   TEXT    NOT NULL,
    message    BLOB    NOT NULL,
    reason     TEXT    NOT NULL,
    parked_at  INTEGER NOT NULL
);

CREATE INDEX parked_messages_consumer ON parked_messages (consumer, id);
