"""The Azure Blob Storage driver: `driver` (the file operations and block-blob writes)."""
