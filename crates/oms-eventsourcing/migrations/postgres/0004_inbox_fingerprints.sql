-- What the message at an offset checkpoint looked like, so a consumer can tell that a
-- topic partition still holds the log it applied (and not a new one whose offsets start
-- again at 0, after the broker lost its topics or the topic was recreated): the xxh3 of
-- the record's key and payload, and the record's timestamp in milliseconds. NULL for
-- checkpoints by outbox position, and for offset checkpoints written before this column.
ALTER TABLE inbox_checkpoints ADD COLUMN record_digest BIGINT;
ALTER TABLE inbox_checkpoints ADD COLUMN record_timestamp BIGINT;
