"""The managers' Discord, split by job: ``connection`` (the client's thread, retries and recorded state),
``cards`` (a draft's embed, a pure function), ``ui`` (buttons and forms), ``commands`` (slash commands) and
``approval`` (the bot that ties them to the pipeline's events and ``bot.decisions``)."""

from responders.discord.approval import ApprovalBot
from responders.discord.cards import CardContext, card_actions, card_context, card_embed, embed_text
from responders.discord.connection import Backoff, point_at
from responders.discord.markup import link, quote
from responders.discord.ui import ActionButton, card_view, form, form_value

__all__ = [
    "ActionButton",
    "ApprovalBot",
    "Backoff",
    "CardContext",
    "card_actions",
    "card_context",
    "card_embed",
    "card_view",
    "embed_text",
    "form",
    "form_value",
    "link",
    "point_at",
    "quote",
]
