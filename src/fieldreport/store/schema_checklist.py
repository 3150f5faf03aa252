"""Store migrations for premises, checklist templates, inspections and their answers
(auto-loaded by ``store/schema.py``). Never edit a released migration: add one."""

from __future__ import annotations


def m004_premises_inspections(db) -> None:
    db.executescript_in_txn(
        """
        CREATE TABLE premises (
            id TEXT PRIMARY KEY,
            ref TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            area TEXT NOT NULL DEFAULT '',
            grid TEXT NOT NULL DEFAULT '',
            contact TEXT NOT NULL DEFAULT '',
            phone TEXT,
            licence TEXT NOT NULL DEFAULT '',
            risk TEXT,
            interval_days INTEGER NOT NULL DEFAULT 90,
            notes TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'local',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX premises_name ON premises(name);
        CREATE TABLE checklist_templates (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            premises_type TEXT NOT NULL,
            body TEXT NOT NULL,
            source TEXT NOT NULL,
            stored_at TEXT NOT NULL,
            PRIMARY KEY (name, version)
        );
        CREATE TABLE inspections (
            id TEXT PRIMARY KEY,
            ref TEXT NOT NULL UNIQUE,
            premises_id TEXT NOT NULL REFERENCES premises(id),
            template TEXT NOT NULL,
            template_version INTEGER NOT NULL,
            recheck_of TEXT,
            items TEXT,
            status TEXT NOT NULL DEFAULT 'in_progress',
            inspector TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            summary TEXT,
            FOREIGN KEY (template, template_version) REFERENCES checklist_templates(name, version)
        );
        CREATE INDEX inspections_premises ON inspections(premises_id, started_at);
        CREATE INDEX inspections_status ON inspections(status);
        CREATE TABLE inspection_answers (
            inspection_id TEXT NOT NULL REFERENCES inspections(id),
            item_id TEXT NOT NULL,
            answer TEXT,
            note TEXT,
            photo TEXT,
            answered_at TEXT NOT NULL,
            PRIMARY KEY (inspection_id, item_id)
        );
        CREATE INDEX reports_premises_item ON reports(premises_id, item_id);
        """
    )


MIGRATIONS = [m004_premises_inspections]
