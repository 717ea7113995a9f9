"""The Amazon S3 (and S3-compatible) driver: `driver` (the file operations), `writer` (streamed multipart writes)."""
