"""The decision UI of a card: its buttons (``DynamicItem``s carrying the draft id) and the Edit and Reject forms.

Both survive a restart: a button is matched by its custom_id's template, a form's submit is routed by its
custom_id (``ApprovalBot.submitted``), never by the Python object that opened it.
"""

from __future__ import annotations

import re
from typing import Any

import discord

LABELS = {
    "approve": ("Approve & post", discord.ButtonStyle.success),
    "edit": ("Edit", discord.ButtonStyle.primary),
    "reject": ("Reject", discord.ButtonStyle.danger),
    "relabel": ("Not a complaint", discord.ButtonStyle.secondary),
    "take": ("Take case", discord.ButtonStyle.secondary),
}
BY_HAND_APPROVE = "Approve: I post it by hand"

FORMS = {"edit": ("Edit draft #{}", "Reply"), "reject": ("Reject draft #{}", "Reason")}
FORM_ID = re.compile(r"mb-(?P<action>edit|reject):(?P<draft>\d+)")
FIELD = "text"  # the custom_id of a form's one text input


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"mb:(?P<action>approve|edit|reject|relabel|take):(?P<draft>\d+)",
):
    """One of a card's buttons; the custom_id carries the action and the draft id."""

    def __init__(self, action: str, draft_id: int, *, label: str = ""):
        default, style = LABELS[action]
        button = discord.ui.Button(label=label or default, style=style, custom_id=f"mb:{action}:{draft_id}")
        super().__init__(button)
        self.action = action
        self.draft_id = draft_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ):
        return cls(match["action"], int(match["draft"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = interaction.client.approval  # type: ignore[attr-defined]
        await bot.act(interaction, self.action, self.draft_id)


def card_view(draft_id: int, actions: list[str], *, by_hand: bool = False) -> discord.ui.View | None:
    """The buttons of a card, only those that apply (``cards.card_actions``); None when there are none."""
    if not actions:
        return None
    view = discord.ui.View(timeout=None)
    for action in actions:
        label = BY_HAND_APPROVE if action == "approve" and by_hand else ""
        view.add_item(ActionButton(action, draft_id, label=label))
    return view


def form(action: str, draft_id: int, *, default: str = "") -> discord.ui.Modal:
    """The Edit or Reject form of a draft: one long text field; its custom_id carries the action and the draft."""
    title, label = FORMS[action]
    modal = discord.ui.Modal(title=title.format(draft_id), custom_id=f"mb-{action}:{draft_id}", timeout=None)
    modal.add_item(
        discord.ui.TextInput(
            label=label,
            custom_id=FIELD,
            default=default or None,
            style=discord.TextStyle.long,
            max_length=4000,
        )
    )
    # The submit is routed by custom_id (ApprovalBot.submitted), never by this object, so that a form opened before
    # a restart is handled like any other; a finished modal is not kept in discord.py's view store.
    modal.stop()
    return modal


def form_value(data: dict[str, Any], custom_id: str = FIELD) -> str:
    """The value of one text input in a modal submit's ``data`` (inside action rows or labels)."""
    pending = list(data.get("components") or [])
    while pending:
        component = pending.pop(0)
        if component.get("custom_id") == custom_id and "value" in component:
            return str(component["value"])
        pending.extend(component.get("components") or [])
        if component.get("component"):
            pending.append(component["component"])
    return ""
