INSERT INTO command_replies (idempotency_key, reply, recorded_at) VALUES (?1, ?2, ?3)
