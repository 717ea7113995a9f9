"""The HTTP/1.1 connection layer under uvicorn: limits on request heads and idle connections."""
