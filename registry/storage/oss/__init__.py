"""The Aliyun OSS driver: `driver` (the file operations), `writer` (streamed multipart writes)."""
