"""The Amazon S3 (and S3-compatible) driver.

`bucket` (the client, error translation, multipart calls), `driver`, `writer`.
"""
