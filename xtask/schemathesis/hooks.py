"""Schemathesis hooks for `cargo xtask schemathesis`.

Every test case gets its own Idempotency-Key. Schemathesis draws header values from the
parameter's schema, so two cases could share a key: the emulator would then replay the
first response (or answer `idempotency_mismatch`), and the second case would never reach
the code it was meant to test. A key that breaks the schema (empty, over 255 characters)
is left alone, as it is what a negative case is testing.
"""

import uuid

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        value = headers[name]
        if isinstance(value, str) and 1 <= len(value) <= 255:
            headers[name] = str(uuid.uuid4())
