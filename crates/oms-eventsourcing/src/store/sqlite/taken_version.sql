SELECT 1 FROM events WHERE stream_id = ?1 AND version = ?2
