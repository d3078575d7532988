-- Only rows of transactions older than the oldest one still running: no transaction that
-- is yet to commit can add a row before the cursor.
SELECT tx, id, message_id, topic, message_key, message_type, payload, headers, created_at
FROM outbox
WHERE (tx, id) > ($1, $2)
  AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
ORDER BY tx, id
LIMIT $3
