SELECT COUNT(*) FROM outbox WHERE id > ?1
