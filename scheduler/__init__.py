"""Beat: schedules stored in the database, fired through the one enqueue path."""
