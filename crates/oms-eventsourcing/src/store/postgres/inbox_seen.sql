SELECT message_id FROM inbox_messages WHERE consumer = $1 AND message_id = ANY($2)
