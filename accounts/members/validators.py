from django.core.exceptions import ValidationError


class MaximumLengthValidator:
    """Reject absurdly long passwords (hashing cost), while allowing long passphrases.

    NIST SP 800-63B asks to accept at least 64 characters; we accept 256.
    """

    def __init__(self, max_length: int = 256) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: object = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is too long: at most {self.max_length} characters.",
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return f"Your password can be up to {self.max_length} characters long; passphrases welcome."
