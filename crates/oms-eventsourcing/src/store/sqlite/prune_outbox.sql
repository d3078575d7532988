DELETE FROM outbox WHERE id <= ?1 AND created_at < ?2
