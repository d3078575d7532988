SELECT idempotency_key, reply FROM command_replies
WHERE idempotency_key IN (SELECT value FROM json_each(?1))
