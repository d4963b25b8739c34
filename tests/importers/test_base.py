"""What every importer does alike: an object that fails our validation is reported, not lost."""

from __future__ import annotations

from pathlib import Path

from oncall.config.models import Team
from oncall.importers.base import DirectorySource, Reader, Unmapped


class _Vendor(Reader):
    LABELS = ("name", "username")


def test_an_object_that_does_not_validate_is_reported_with_why(tmp_path: Path) -> None:
    reader = _Vendor("somevendor", DirectorySource(tmp_path), None, None)

    ana = {"email": "ana@example.com", "role": "admin"}
    assert reader.add(Team, {"kind": "Team", "name": "platform", "members": [ana]})
    assert not reader.add(Team, {"kind": "Team", "name": "db", "members": []})

    assert [t.name for t in reader.out.objects] == ["platform"]
    [report] = reader.out.unmapped
    assert (report.kind, report.name) == ("Team", "db")
    assert report.reason == ("does not validate: members: List should have at least 1 item "
                             "after validation, not 0")


def test_names_are_unique_per_kind_and_the_report_names_the_vendor_object(tmp_path: Path
                                                                          ) -> None:
    reader = _Vendor("somevendor", DirectorySource(tmp_path), None, None)

    assert [reader.name("schedule", "Primary"), reader.name("schedule", "primary"),
            reader.name("team", "Primary")] == ["primary", "primary-2", "primary"]
    reader.unmapped("user", {"id": "U1", "username": "ana@example.com"}, "no email")
    assert reader.out.unmapped == [Unmapped("user", "U1", "ana@example.com", "no email")]
