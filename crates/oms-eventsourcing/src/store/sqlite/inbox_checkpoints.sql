SELECT source, tx, id FROM inbox_checkpoints WHERE consumer = ?1
