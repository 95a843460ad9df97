"""An editor's record on a claim, checked before it is stored: the claim is one of feeds.yaml's, the
editor is named, and the record keeps the claim's present wording (a record holds for that wording
only: a claim reworded in feeds.yaml is a new statement). What `watcher claim resolve|reopen` and
the workspace's "resolved on the page" button call."""

from __future__ import annotations

from datetime import datetime

from ..errors import UsageError
from ..store import RESOLVED, ClaimResolution, Store
from ..text import plain
from .claims import ArticleSettings

MAX_NAME, MAX_NOTE = 100, 1000


def record_claim(store: Store, article: ArticleSettings, claim_id: str, user: str, note: str, now: datetime, *,
                 action: str = RESOLVED) -> ClaimResolution:
    """Store that `user` resolved (or reopened) the claim; UsageError when the claim or the name is wrong."""
    claim = article.claim(claim_id)
    if claim is None:
        known = ", ".join(c.id for c in article.claims)
        raise UsageError(f"no claim has the id {plain(claim_id)!r} in feeds.yaml's article.claims; known: {known}")
    who, why = plain(user), plain(note)
    if not who:
        raise UsageError("say who records it (--by NAME): the record keeps who and when")
    if len(who) > MAX_NAME or len(why) > MAX_NOTE:
        raise UsageError(f"the name is at most {MAX_NAME} characters and the note at most {MAX_NOTE}")
    return store.resolve_claim(claim.id, who, why, now, text=claim.text, action=action)
