-- Long-term memory per restaurant and customer (issue 13), and HNSW indexes for memory and menu vectors.
-- Memories are keyed by phone as well as customer id: a customer tells us "sou alérgica a camarão" before they
-- register, and the fact must still be there when they come back with the same phone.
ALTER TABLE memories
    ADD COLUMN phone          text,
    ADD COLUMN subject        text,
    ADD COLUMN source_message text,
    ADD COLUMN updated_at     timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN superseded_at  timestamptz,
    ADD COLUMN superseded_by  bigint REFERENCES memories(id) ON DELETE SET NULL,
    -- measured against `search` ('simple') by `comanda bench memory`; both are kept so the choice stays measurable
    ADD COLUMN search_pt      tsvector GENERATED ALWAYS AS (to_tsvector('portuguese', fold_accents(text))) STORED,
    ADD CONSTRAINT memories_kind_check
        CHECK (kind IN ('preference', 'allergy', 'diet', 'address', 'time', 'favourite', 'complaint', 'summary'));

UPDATE memories m SET phone = c.phone FROM customers c WHERE m.customer_id = c.id AND m.phone IS NULL;

-- one current fact per subject; older ones stay as history with superseded_at set
CREATE UNIQUE INDEX memories_current_subject_idx ON memories (tenant_id, phone, subject)
    WHERE superseded_at IS NULL AND subject IS NOT NULL;
CREATE INDEX memories_owner_idx ON memories (tenant_id, phone) WHERE superseded_at IS NULL;
CREATE INDEX memories_search_pt_idx ON memories USING gin (search_pt);
-- pgvector 0.8 iterative scans keep filtering by tenant/customer inside this scan when the planner picks it
CREATE INDEX memories_embedding_idx ON memories USING hnsw (embedding vector_cosine_ops);

-- menu search fuses vector ranks on every query now (issue 13), so it gets an index too
CREATE INDEX menu_items_embedding_idx ON menu_items USING hnsw (embedding vector_cosine_ops);
