-- Metered usage (issue 17): a restaurant's monthly conversation quota, from its plan, and the conversations counted
-- against it. A conversation opens with a customer's first message after 24 hours without one (WhatsApp's own
-- unit of billing); quota NULL is no limit.
ALTER TABLE tenants ADD COLUMN monthly_conversation_quota integer CHECK (monthly_conversation_quota >= 0);

CREATE TABLE conversation_usage (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone           text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_usage_phone_idx ON conversation_usage (tenant_id, phone, started_at);
CREATE INDEX conversation_usage_month_idx ON conversation_usage (tenant_id, started_at);
