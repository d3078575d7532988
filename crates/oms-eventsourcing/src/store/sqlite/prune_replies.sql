DELETE FROM command_replies WHERE recorded_at < ?1
