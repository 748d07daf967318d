from __future__ import annotations

import pytest

from portal_core.errors import Conflict
from portal_core.ports import UnitOfWorkFactory

from .factories import attachment, case, organisation


def test_attachments_read_back_in_upload_order(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.cases.add(case("c-1"))
        work.cases.add(case("c-2"))
        later = attachment("a-1", "c-1", minute=5)
        earlier = attachment("a-2", "c-1", minute=1)
        same_time = attachment("a-0", "c-1", minute=5)
        for stored in (later, earlier, same_time, attachment("a-3", "c-2")):
            work.attachments.add(stored)
        with pytest.raises(Conflict):
            work.attachments.add(attachment("a-1", "c-2"))
        work.commit()
    with uow() as work:
        assert work.attachments.get("a-1") == later
        assert work.attachments.get("a-9") is None
        assert list(work.attachments.for_case("c-1")) == [earlier, same_time, later]
        assert work.attachments.for_case("c-3") == []
