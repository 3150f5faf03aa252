"""The walk-through engine, independent of the terminal: one item at a time, each answer
checked against its type and saved (with its outbox operation) the moment it is given.
A driver (the rich prompt loop in ``cli/render_checklist.py``, or a test) calls
:meth:`Walk.answer`, :meth:`Walk.back`, :meth:`Walk.skip`, :meth:`Walk.keep`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..i18n import _
from ..store import checklist_store as cs
from . import builtin
from .template import Item, Section, Template, outcome, parse_answer


@dataclass
class Step:
    index: int
    section: Section
    item: Item


class Walk:
    """The state of one inspection being walked. ``pos`` starts at the first unanswered item."""

    def __init__(self, store, blobs, inspection_id: str, lang: str = "en"):
        self.store = store
        self.blobs = blobs
        self.lang = lang
        self.inspection = cs.inspection(store, inspection_id)
        self.id = inspection_id
        self.template: Template = builtin.get(store, self.inspection["template"],
                                              self.inspection["template_version"])[0]
        only = self.inspection.get("items")
        pairs = [(s, it) for s, it in self.template.items() if only is None or it.id in only]
        self.steps = [Step(i, s, it) for i, (s, it) in enumerate(pairs)]
        self.answers = cs.answers(store, inspection_id)
        self.pos = self.first_open()

    # ------------------------------------------------------------ state
    @property
    def total(self) -> int:
        return len(self.steps)

    def first_open(self) -> int:
        for st in self.steps:
            if st.item.id not in self.answers:
                return st.index
        return self.total

    def done(self) -> bool:
        return self.pos >= self.total

    def complete(self) -> bool:
        return all(st.item.id in self.answers for st in self.steps)

    def current(self) -> Step:
        if self.done():
            raise IndexError("the walk is at its end")
        return self.steps[self.pos]

    def progress(self) -> str:
        """``7/18``: the position of the current item (or the count when at the end)."""
        return f"{min(self.pos + 1, self.total)}/{self.total}"

    def answered_count(self) -> int:
        return sum(1 for st in self.steps if st.item.id in self.answers)

    def values(self) -> dict[str, Any]:
        return {k: v["answer"] for k, v in self.answers.items()}

    def outcome_of(self, item: Item) -> tuple[str, Any]:
        vals = self.values()
        return outcome(self.template, item, vals.get(item.id), vals)

    def listing(self) -> list[dict[str, Any]]:
        """Every item with its section, text, answer and outcome (for the 'l' key)."""
        out = []
        for st in self.steps:
            a = self.answers.get(st.item.id)
            res, rule = self.outcome_of(st.item)
            out.append({"n": st.index + 1, "section": st.section.title.get(self.lang), "item_id": st.item.id,
                        "text": st.item.text.get(self.lang), "answer": a["answer"] if a else None,
                        "note": a["note"] if a else None, "outcome": res, "code": rule.code if rule else None,
                        "current": st.index == self.pos})
        return out

    # ------------------------------------------------------------ moves
    def _photo(self, path: str | None) -> dict[str, Any] | None:
        if not path:
            return None
        from ..blobs import sniff_image

        p, _mime = self.blobs.check_photo(path)
        sha, size = self.blobs.put_file(p)
        with open(p, "rb") as f:
            mime = sniff_image(f.read(32)) or "application/octet-stream"
        ref = {"sha256": sha, "size": size, "mime": mime, "name": p.name}
        from ..photos import enrich  # issue 8: the transmission copy sync sends first

        enrich(self.store, self.blobs, {"photos": [ref]}, [p])
        return ref

    def check(self, item: Item, raw: Any) -> Any:
        """The normalised answer for ``item`` (raises InputError); nothing is saved."""
        return parse_answer(item, raw, self.lang)

    def answer(self, raw: Any, *, note: str | None = None, photo: str | None = None,
               item_id: str | None = None, advance: bool = True) -> tuple[str, Any]:
        """Check and save the answer to the current item (or ``item_id``); move on.
        Returns the item's outcome (``pass``/``fail``/``na``) and the failing rule."""
        st = self._step(item_id)
        value = parse_answer(st.item, raw, self.lang)
        if note is not None:
            note = note.strip() or None
            if note and len(note) > 2000:
                raise InputError(_("{item}: the note is too long (at most {limit} characters)").format(
                    item=st.item.id, limit=2000), "note")
        if st.item.type == "photo" and value != "na":
            value = self._photo(value)
        ph = self._photo(photo) if photo else None
        cur = self.answers.get(st.item.id)
        if cur is not None:  # answering again keeps the note and photo unless new ones are given
            note = cur["note"] if note is None else note
            ph = ph or cur["photo"]
        self._save(st, value, note, ph)
        if advance and item_id is None:
            self.pos = st.index + 1
        return self.outcome_of(st.item)

    def annotate(self, *, note: str | None = None, photo: str | None = None, item_id: str | None = None) -> None:
        """Add a note and/or a photo to an item already answered (saved at once)."""
        st = self._step(item_id, allow_end=True)
        cur = self.answers.get(st.item.id)
        if cur is None:
            raise InputError(_("{item}: answer the item first").format(item=st.item.id), st.item.id)
        ph = self._photo(photo) if photo else cur["photo"]
        n = (note.strip() or None) if note is not None else cur["note"]
        if n == cur["note"] and ph == cur["photo"]:
            return
        self._save(st, cur["answer"], n, ph)

    def skip(self) -> None:
        st = self.current()
        if st.item.required:
            raise InputError(_("{item}: this item is required and cannot be skipped; answer na if it does not "
                               "apply").format(item=st.item.id), st.item.id)
        self._save(st, None, None, None)
        self.pos = st.index + 1

    def keep(self) -> bool:
        """Move past an item already answered, keeping its answer. False if it has none."""
        st = self.current()
        if st.item.id not in self.answers:
            return False
        self.pos = st.index + 1
        return True

    def back(self) -> bool:
        if self.pos == 0:
            return False
        self.pos -= 1
        return True

    def goto(self, n: int) -> None:
        if not 1 <= n <= self.total:
            raise InputError(_("item: give a number from 1 to {total}").format(total=self.total), "item")
        self.pos = n - 1

    # ------------------------------------------------------------ internals
    def _step(self, item_id: str | None, allow_end: bool = False) -> Step:
        if item_id is None:
            if allow_end and self.done() and self.pos > 0:
                return self.steps[self.pos - 1]
            return self.current()
        for st in self.steps:
            if st.item.id == item_id:
                return st
        raise InputError(_("{item}: no such item in this inspection; `fieldreport checklist template show {template} "
                           "--json` lists the item ids").format(item=item_id, template=self.template.name), "item_id")

    def _save(self, st: Step, value: Any, note: str | None, photo: dict[str, Any] | None) -> None:
        res = cs.save_answer(self.store, self.id, st.item.id, value, note=note, photo=photo)
        self.answers[st.item.id] = {"answer": value, "note": note, "photo": photo, "answered_at": res["answered_at"]}
