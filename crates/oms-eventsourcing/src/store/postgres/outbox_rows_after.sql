SELECT COUNT(*) FROM outbox WHERE (tx, id) > ($1, $2)
