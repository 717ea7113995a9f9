"""The Azure Blob Storage driver: `driver` (the file operations), `writer` (staged blocks)."""
