"""The Aliyun OSS driver.

`bucket` (the client, constants and error translation), `upload` (one multipart upload),
`driver`, `writer`.
"""
