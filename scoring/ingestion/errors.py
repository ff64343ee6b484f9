"""Stable error codes of the ingestion API (and the what-if's), shared by the code and the tests."""


class Code:
    # Signatures (401) — see scoring.ingestion.partners.SignatureCode for the values.
    # Idempotency.
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"  # 400
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # 422: same key, another body
    REQUEST_IN_FLIGHT = "request_in_flight"  # 409
    LOCK_CONFLICT = "lock_conflict"  # 409: the database kept refusing the write (retried); send again shortly
    # Events.
    UNKNOWN_MEMBER = "unknown_member"  # 400
    UNKNOWN_KIND = "unknown_kind"  # 400
    INVALID_AMOUNT = "invalid_amount"  # 400: zero, negative, too many decimals
    IN_FUTURE = "in_future"  # 400
    OUT_OF_RANGE = "out_of_range"  # 400: dates before 2000 or absurdly far
    PAYMENT_OUTCOME = "payment_outcome"  # 400: bill/card needs paid_date xor missed
    NOT_FOR_KIND = "not_for_kind"  # 400: a field that this kind does not take
    BATCH_TOO_LARGE = "batch_too_large"  # 400
    NO_CONSENT = "no_consent"  # 403
    CONFLICTING_DUPLICATE = "conflicting_duplicate"  # 409: external_id accepted before with other content
    # Members' side.
    UNKNOWN_PARTNER = "unknown_partner"  # 404
    ALREADY_CONNECTED = "already_connected"  # 409
