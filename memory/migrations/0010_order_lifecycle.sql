-- Order lifecycle (issue 10): every state an order can be in, the history of its moves (which also carries the
-- customer's notification until it went out), payments that can expire or be cancelled, Asaas webhook events
-- stored before they are processed, and Asaas customers per restaurant.

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN (
    'placed', 'awaiting_payment', 'paid', 'preparing', 'out_for_delivery', 'delivered', 'cancelled', 'refunded'));
-- "how long ago did it change": updated_at moves for other reasons (a payment method switch)
ALTER TABLE orders ADD COLUMN status_changed_at timestamptz NOT NULL DEFAULT now();
-- something staff must look at (a payment whose amount doesn't match the order); never changes the status
ALTER TABLE orders ADD COLUMN flagged_reason text;
ALTER TABLE orders ADD COLUMN flagged_at timestamptz;
-- the conversation's language when the order was placed: later messages about it speak the same
ALTER TABLE orders ADD COLUMN locale text;
-- the one reminder an unpaid PIX order gets before it expires
ALTER TABLE orders ADD COLUMN payment_reminded_at timestamptz;
CREATE INDEX orders_unpaid_idx ON orders (status_changed_at) WHERE status = 'awaiting_payment';
CREATE INDEX orders_flagged_idx ON orders (tenant_id, flagged_at) WHERE flagged_reason IS NOT NULL;

CREATE TABLE order_transitions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    order_id        bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    from_status     text NOT NULL,
    to_status       text NOT NULL,
    actor           text NOT NULL,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- the customer is told of this move (false when the conversation's own reply already said it)
    notify          boolean NOT NULL DEFAULT true,
    notified_at     timestamptz
);
CREATE INDEX order_transitions_order_idx ON order_transitions (tenant_id, order_id, id);
CREATE INDEX order_transitions_unsent_idx ON order_transitions (id) WHERE notify AND notified_at IS NULL;

-- minutes an unpaid PIX order waits before it is cancelled
ALTER TABLE tenants ADD COLUMN pix_expiry_minutes integer NOT NULL DEFAULT 30 CHECK (pix_expiry_minutes BETWEEN 5 AND 1440);

ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'paid', 'failed', 'refunded', 'expired', 'cancelled'));
-- a customer who switches from PIX to card gets a card charge of the same provider: one charge per method
ALTER TABLE payments DROP CONSTRAINT payments_tenant_id_order_id_provider_key;
ALTER TABLE payments ADD CONSTRAINT payments_one_per_method UNIQUE (tenant_id, order_id, provider, method);
ALTER TABLE payments ADD COLUMN expires_at timestamptz;

-- Provider webhook events, stored before they are answered: a replay finds its id taken and changes nothing.
CREATE TABLE payment_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider        text NOT NULL,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    provider_ref    text,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    outcome         text,
    UNIQUE (tenant_id, provider, event_id)
);
CREATE INDEX payment_events_unprocessed_idx ON payment_events (id) WHERE processed_at IS NULL;

-- A restaurant's Asaas customer for one of its customers (found or created by externalReference = our id).
CREATE TABLE payment_customers (
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    provider        text NOT NULL,
    provider_customer_id text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id, provider)
);
