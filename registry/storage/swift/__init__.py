"""The OpenStack Swift driver.

`session` (the HTTP session, constants and error translation), `driver`, `reader`, `writer`.
"""
