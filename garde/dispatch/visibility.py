"""Who may see a study (its page, its explanation, its images in the viewer).

Pure: the service resolves who is asking (an operator, a region that never issued a
token, a radiologist and their credentialed hospitals) and words the refusal.
"""

from __future__ import annotations


def may_see(
    site_id: str,
    assignee: str | None,
    subject: str,
    reader_sites: frozenset[str] | None,
    *,
    privileged: bool,
) -> bool:
    """Whether ``subject`` may see a study of hospital ``site_id`` held by ``assignee``.

    ``privileged``: an operator, or anyone in a region that never issued a token (a demo,
    a first test night): every study. Otherwise one's own study, or a study of a
    hospital one is credentialed for (``reader_sites``; None: not a known radiologist).
    """
    if privileged or assignee == subject:
        return True
    return reader_sites is not None and site_id in reader_sites
