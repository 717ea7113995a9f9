"""The Aliyun OSS driver.

`bucket` (the client, constants and error translation), `driver`, `writer`.
"""
