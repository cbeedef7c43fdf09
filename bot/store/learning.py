"""Managers' labels (training data) and the trained complaint models."""

from __future__ import annotations

import json
from datetime import datetime

from bot.models import Mention
from bot.store.base import Base
from bot.store.records import Label, StoredModel, iso, record


class Learning(Base):
    def add_label(
        self,
        mention: Mention | None,
        *,
        complaint: bool,
        intent: str,
        source: str,
        actor: str,
        now: datetime,
        text: str | None = None,
    ) -> None:
        """Record a manager's decision as training data for the complaint model."""
        with self.write_transaction():
            self._insert(
                "labels",
                {
                    "platform": mention.platform if mention else None,
                    "mention_id": mention.id if mention else None,
                    "text": text if text is not None else (mention.text if mention else ""),
                    "complaint": int(complaint),
                    "intent": intent,
                    "source": source,
                    "actor": actor,
                    "at": iso(now),
                },
                returning=None,
            )

    def labels(self) -> list[Label]:
        """Every label, the latest decision per mention winning."""
        rows = self._rows(
            "select * from labels where id in (select max(id) from labels group by coalesce(platform || ':' || "
            "mention_id, 'id:' || id)) order by id"
        )
        return [record(Label, r) for r in rows]

    def save_model(
        self, version: str, *, kind: str, blob: bytes, scores: dict, now: datetime, active: bool
    ) -> None:
        with self.write_transaction():
            if active:
                self._execute("update models set active = 0")
            self._execute(
                "insert into models (version, kind, created_at, active, scores, blob) values (?, ?, ?, ?, ?, ?) "
                "on conflict (version) do update set kind = excluded.kind, created_at = excluded.created_at, "
                "active = excluded.active, scores = excluded.scores, blob = excluded.blob",
                [version, kind, iso(now), int(active), json.dumps(scores), blob],
            )

    def active_model_version(self) -> str | None:
        """The active model's version, without loading the model."""
        row = self._one("select version from models where active = 1")
        return row["version"] if row else None

    def model_blob(self, version: str) -> bytes:
        """The serialised model saved under ``version``."""
        row = self._one("select blob from models where version = ?", [version])
        if row is None:
            raise KeyError(version)
        return bytes(row["blob"])

    def models(self) -> list[StoredModel]:
        rows = self._rows("select version, kind, created_at, active, scores from models order by created_at")
        return [record(StoredModel, r) for r in rows]
