-- POS relay (issue 11): the outbox's delivery state (retry schedule, stuck rows, the SQS message id that accepted
-- a row), status updates coming back from the POS (deduplicated by their id) and the ones we could not apply.

-- a row refused by SQS waits until next_attempt_at; after too many refusals it is stuck and waits for a human
ALTER TABLE outbox ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE outbox ADD COLUMN stuck_at timestamptz;
ALTER TABLE outbox ADD COLUMN sqs_message_id text;
-- the relay looks for one store's pending rows in id order
CREATE INDEX outbox_pending_idx ON outbox (tenant_id, id) WHERE published_at IS NULL AND stuck_at IS NULL;
CREATE INDEX outbox_stuck_idx ON outbox (tenant_id, id) WHERE stuck_at IS NOT NULL AND published_at IS NULL;
-- `comanda outbox tail` reads one store's rows after the last it printed
CREATE INDEX outbox_tenant_idx ON outbox (tenant_id, id);

-- every POS status update applied, by the POS's own id: a redelivered message changes nothing
CREATE TABLE pos_updates (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    update_id       text NOT NULL,
    order_id        bigint NOT NULL,
    status          text NOT NULL,
    outcome         text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, update_id)
);

-- POS messages we could not apply (unknown order, illegal move, unreadable body), kept with the reason
CREATE TABLE pos_dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    sqs_message_id  text NOT NULL,
    update_id       text,
    order_id        bigint,
    body            text NOT NULL,
    reason          text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, sqs_message_id)
);
