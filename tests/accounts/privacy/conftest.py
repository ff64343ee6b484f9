"""The moderation cast (``tests.scoring.moderation.conftest``): a member's data spans every app."""

from tests.scoring.conftest import acme, acme_key  # noqa: F401  (fixtures)
from tests.scoring.moderation.conftest import (  # noqa: F401  (fixtures; _vest_at_once is autouse)
    _vest_at_once,
    member_client,
    mod_client,
    moderator,
    run,
    world,
)
