-- What the message at an offset checkpoint looked like (xxh3 of key and payload, record
-- timestamp in milliseconds), so a consumer can tell that a topic partition still holds
-- the log it applied. NULL for checkpoints by outbox position.
ALTER TABLE inbox_checkpoints ADD COLUMN record_digest INTEGER;
ALTER TABLE inbox_checkpoints ADD COLUMN record_timestamp INTEGER;
