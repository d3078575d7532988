SELECT id, message, reason, parked_at FROM parked_messages
WHERE consumer = $1 AND id > $2
ORDER BY id
LIMIT $3
