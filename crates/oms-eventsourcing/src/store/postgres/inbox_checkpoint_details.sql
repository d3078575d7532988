SELECT source, tx, id, record_digest, record_timestamp FROM inbox_checkpoints WHERE consumer = $1
