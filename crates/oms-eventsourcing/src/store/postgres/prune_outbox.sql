DELETE FROM outbox WHERE (tx, id) <= ($1, $2) AND created_at < $3
