"""The managers' decisions as plain functions: the CLI and the Discord bot only call these.

Each decision is one state change of a draft (one transaction, in the audit trail) and, where it says something
about the post's intent, a label for the complaint model.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.config import BrandSettings
from bot.errors import MentionbotError
from bot.models import Case, Draft
from bot.store import Store
from responders import guard, tone
from responders.compose import rule_problems

PENDING = ("awaiting",)


class DecisionError(MentionbotError):
    """A manager's decision was refused; the message says why."""


def may_act(role_names: Iterable[str], manager_roles: Iterable[str]) -> bool:
    """Whether a member holding ``role_names`` may approve, edit or reject drafts."""
    wanted = {r.lower() for r in manager_roles}
    return bool(wanted) and any(r.lower() in wanted for r in role_names)


def may_read(role_names: Iterable[str], manager_roles: Iterable[str], *, open_to_all: bool = False) -> bool:
    """Whether a member holding ``role_names`` may read the queue, cases, status and report (``open_to_all``:
    ``[discord] open_read_commands``)."""
    return open_to_all or may_act(role_names, manager_roles)


def approve(
    store: Store,
    draft_id: int,
    *,
    actor: str,
    now: datetime,
    text: str | None = None,
    override_reason: str | None = None,
    brand: BrandSettings | None = None,
) -> Draft:
    """Approve a draft (optionally with new text) and queue it for posting exactly once.

    ``brand`` gives the contact routes a reply may link to; without it the final check lets no link or address
    through.
    """
    draft = _pending(store, draft_id)
    final = draft.text if text is None else text
    mention = store.mention(draft.platform, draft.mention_id)
    # No reason overrides the final check: what it refuses would put a stranger's words in the brand's mouth.
    refused = guard.check(final, brand=brand or BrandSettings(), handles=(mention.author.handle,))
    if refused:
        raise DecisionError("the final check refused this reply: " + "; ".join(refused))
    findings = [str(f) for f in tone.check(final, ignore=(guard.greeting(mention.author).name,))]
    if findings and not override_reason:
        raise DecisionError(
            "the tone guard found: "
            + "; ".join(findings)
            + " — edit the reply, or approve with a reason to override"
        )
    from connectors import rules_for

    problems = rule_problems(final, rules_for(draft.platform))
    if problems:
        raise DecisionError("the platform would refuse this reply: " + "; ".join(problems))
    manual = draft.route == "manual"
    with store.transaction():
        changed = store.transition(
            draft_id,
            from_states=PENDING,
            to_state="manual" if manual else "approved",
            actor=actor,
            now=now,
            action=("approved (reply by hand)" if manual else "approved")
            + (" after edit" if final != draft.text else ""),
            detail=f"tone guard overridden: {override_reason} (findings: {'; '.join(findings)})"
            if findings
            else None,
            text=final,
            decided_by=actor,
            findings=findings,
            reason=override_reason,
        )
        if not changed:
            raise DecisionError(f"draft {draft_id} was decided meanwhile")
        if not manual:
            store.enqueue(
                kind="reply",
                platform=draft.platform,
                mention_id=draft.mention_id,
                text=final,
                idempotency_key=f"draft-{draft_id}-reply",
                now=now,
                draft_id=draft_id,
                case_id=draft.case_id,
            )
        store.add_label(
            mention,
            complaint=draft.intent == "complaint",
            intent=draft.intent,
            source="approved",
            actor=actor,
            now=now,
        )
    return store.draft(draft_id)


def edit(
    store: Store,
    draft_id: int,
    *,
    actor: str,
    now: datetime,
    text: str,
    override_reason: str | None = None,
    brand: BrandSettings | None = None,
) -> Draft:
    """Replace a draft's text and approve it (an edit is an approval of the new words)."""
    return approve(
        store, draft_id, actor=actor, now=now, text=text, override_reason=override_reason, brand=brand
    )


def reject(store: Store, draft_id: int, *, actor: str, now: datetime, reason: str) -> Draft:
    """Reject a draft with a reason; nothing is posted."""
    if not reason.strip():
        raise DecisionError("a rejection needs a reason")
    _pending(store, draft_id)
    if not store.transition(
        draft_id,
        from_states=PENDING,
        to_state="rejected",
        actor=actor,
        now=now,
        detail=reason,
        decided_by=actor,
        reason=reason,
    ):
        raise DecisionError(f"draft {draft_id} was decided meanwhile")
    return store.draft(draft_id)


def relabel(store: Store, draft_id: int, *, actor: str, now: datetime, intent: str) -> Draft:
    """Correct the intent of a draft's mention ("not a complaint"): a label for the model; a non-reply intent
    also withdraws the draft."""
    from bot.config import INTENTS

    if intent not in INTENTS:
        raise DecisionError(f"unknown intent {intent!r}; expected one of {', '.join(INTENTS)}")
    draft = store.draft(draft_id)
    mention = store.mention(draft.platform, draft.mention_id)
    with store.transaction():
        store.add_label(
            mention, complaint=intent == "complaint", intent=intent, source="relabelled", actor=actor, now=now
        )
        if intent == "other":
            store.transition(
                draft_id,
                from_states=PENDING,
                to_state="rejected",
                actor=actor,
                now=now,
                action="relabelled",
                detail=f"{draft.intent} -> {intent}",
                decided_by=actor,
                reason=f"relabelled as {intent}",
            )
        else:
            store.transition(
                draft_id,
                from_states=[draft.state],
                to_state=draft.state,
                actor=actor,
                now=now,
                action="relabelled",
                detail=f"{draft.intent} -> {intent}",
                intent=intent,
            )
    return store.draft(draft_id)


def take_case(store: Store, case_id: int, *, actor: str, now: datetime) -> Case:
    """Make ``actor`` the case's one owner (a case is never bounced between people: doctrine §4)."""
    case = store.case(case_id)
    if case.owner and case.owner != actor:
        raise DecisionError(f"case {case.ref} is owned by {case.owner}; they hand it over, not the customer")
    store.update_case(case_id, now=now, actor=actor, event="owner", note=f"taken by {actor}", owner=actor)
    return store.case(case_id)


def take_draft_case(store: Store, draft_id: int, *, actor: str, now: datetime) -> Case:
    """Take the case a draft belongs to (the card's "Take case")."""
    draft = store.draft(draft_id)
    if draft.case_id is None:
        raise DecisionError(f"draft {draft_id} has no case to take")
    return take_case(store, draft.case_id, actor=actor, now=now)


def _pending(store: Store, draft_id: int) -> Draft:
    draft = store.draft(draft_id)
    if draft.state not in PENDING:
        raise DecisionError(f"draft {draft_id} is {draft.state}, not awaiting approval")
    return draft
