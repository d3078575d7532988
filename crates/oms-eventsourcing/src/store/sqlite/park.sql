INSERT INTO parked_messages (consumer, message, reason, parked_at) VALUES (?1, ?2, ?3, ?4)
