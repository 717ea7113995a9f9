"""The Google Cloud Storage driver: `driver` (the file operations), `writer` (streamed writes by composed parts)."""
