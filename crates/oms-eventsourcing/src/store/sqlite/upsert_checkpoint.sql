INSERT INTO inbox_checkpoints (consumer, source, tx, id, record_digest, record_timestamp)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (consumer, source) DO UPDATE
SET tx = excluded.tx, id = excluded.id,
    record_digest = excluded.record_digest, record_timestamp = excluded.record_timestamp
WHERE excluded.tx > inbox_checkpoints.tx
   OR (excluded.tx = inbox_checkpoints.tx AND excluded.id > inbox_checkpoints.id)
