-- LGPD (issue 14): the restaurant's privacy notice link, the consents customers gave or refused (with the
-- notice's version), and an audit of the rights they exercised (export, erasure) that holds ids, never the data.
ALTER TABLE tenants ADD COLUMN privacy_url text CHECK (privacy_url IS NULL OR privacy_url ~ '^https?://');

CREATE TABLE consents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    notice_version  text NOT NULL,
    accepted        boolean NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consents_customer_idx ON consents (tenant_id, customer_id, at);

-- `subject` is the keyed hash of the conversation (memory.privacy.customer_ref), not the phone
CREATE TABLE privacy_audit (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     bigint,
    subject         text NOT NULL,
    action          text NOT NULL CHECK (action IN ('export', 'erase')),
    actor           text NOT NULL CHECK (actor IN ('customer', 'staff')),
    counts          jsonb NOT NULL DEFAULT '{}'::jsonb,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX privacy_audit_tenant_idx ON privacy_audit (tenant_id, at);

-- An erased customer who had orders stays as an anonymous row the orders (kept for fiscal duty) point to:
-- its phone becomes 'erased:<id>', which no WhatsApp number can be.
ALTER TABLE customers DROP CONSTRAINT customers_phone_check;
ALTER TABLE customers ADD CONSTRAINT customers_phone_check
    CHECK (phone ~ '^\+[1-9][0-9]{7,14}$' OR phone ~ '^erased:[0-9]+$');
ALTER TABLE customers ADD COLUMN erased_at timestamptz;
