INSERT INTO inbox_checkpoints (consumer, source, tx, id) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (consumer, source) DO UPDATE SET tx = excluded.tx, id = excluded.id
WHERE excluded.tx > inbox_checkpoints.tx
   OR (excluded.tx = inbox_checkpoints.tx AND excluded.id > inbox_checkpoints.id)
