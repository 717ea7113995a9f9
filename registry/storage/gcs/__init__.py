"""The Google Cloud Storage driver.

`bucket` (the client, error translation, the calls writes make), `driver`, `writer`.
"""
