-- WhatsApp channel: idempotent sends and the customer's 24-hour window.

-- A replayed turn (a worker died after the checkpoint, before or during sending) must not send twice:
-- each outbound part gets a key made of the turn's last MessageSid, the reply's index and the part's index.
ALTER TABLE outbound_messages ADD COLUMN dedupe_key text;
CREATE UNIQUE INDEX outbound_messages_dedupe_idx ON outbound_messages (tenant_id, dedupe_key)
    WHERE dedupe_key IS NOT NULL;
ALTER TABLE outbound_messages ADD COLUMN content_sid text;

-- WhatsApp refuses free-form messages more than 24 hours after the customer's last message.
CREATE TABLE conversation_windows (
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone           text NOT NULL,
    last_inbound_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, phone)
);
