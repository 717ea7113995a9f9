"""The Google Cloud Storage driver.

`bucket` (the client, error translation, the calls writes make), `markers` (the upload marker's
format), `driver`, `writer`.
"""
