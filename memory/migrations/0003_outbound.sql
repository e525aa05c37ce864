-- Messages we send to customers (bot replies, notifications, agent replies) and their delivery state.
-- The console channel writes rows as 'sent'; Twilio fills provider_sid and moves them through its states.

CREATE TABLE outbound_messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    body            text NOT NULL,
    media_url       text,
    kind            text NOT NULL DEFAULT 'reply' CHECK (kind IN ('reply', 'notification', 'agent')),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sent', 'delivered', 'read', 'failed', 'undelivered')),
    provider_sid    text UNIQUE,
    error_code      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_messages_phone_idx ON outbound_messages (tenant_id, phone, id);
