DELETE FROM inbox_messages WHERE recorded_at < ?1
