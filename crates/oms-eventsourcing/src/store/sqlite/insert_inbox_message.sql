INSERT INTO inbox_messages (consumer, message_id, recorded_at) VALUES (?1, ?2, ?3)
