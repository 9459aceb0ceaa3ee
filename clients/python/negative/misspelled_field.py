"""MUST NOT type check. .ci/clients.sh runs ``mypy --strict`` on this file and
fails if mypy accepts it, or refuses it for anything but the misspelled
field: the push below is valid but for ``ocurred_at`` (for ``occurred_at``)
in the contact's create fields, which the generated model's typed
``__init__`` refuses. Never run, and not part of the scenario's type check
(which checks scenario.py alone).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from outpost_client.models import (
    ContactMutation,
    ContactMutationEntity,
    ContactMutationOp,
    ContactType,
    CreateContactFields,
    KitLineInput,
    PushRequest,
)

at = datetime(2026, 12, 1, 22, 40, tzinfo=timezone.utc)

push = PushRequest(
    mutations=[
        ContactMutation(
            mutation_id=uuid.UUID("0193b6a0-0000-7000-8000-000000000022"),
            entity=ContactMutationEntity.CONTACT,
            id=uuid.UUID("0193b6a0-0000-7000-8000-000000000012"),
            op=ContactMutationOp.CREATE,
            fields=CreateContactFields(
                occurred_at=at,
                contact_type=ContactType.STREET_OUTREACH,
                kit_lines=[KitLineInput(item="injecting_pack_basic", quantity=1)],
                ocurred_at=at,
            ),
        )
    ]
)
