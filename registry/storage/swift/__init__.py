"""The OpenStack Swift driver: `driver`, `session` (the HTTP session and error translation), `reader`, `writer`."""
