DELETE FROM parked_messages WHERE id = ?1
