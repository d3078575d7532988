-- SQLite has one writer at a time, so ids are assigned in commit order and `tx` is 0.
SELECT 0, id, message_id, topic, message_key, message_type, payload, headers, created_at
FROM outbox
WHERE id > ?1
ORDER BY id
LIMIT ?2
