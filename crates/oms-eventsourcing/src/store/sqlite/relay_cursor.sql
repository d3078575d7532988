SELECT tx, id FROM relay_cursors WHERE relay = ?1
