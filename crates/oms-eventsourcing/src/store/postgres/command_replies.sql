SELECT idempotency_key, reply FROM command_replies WHERE idempotency_key = ANY($1)
