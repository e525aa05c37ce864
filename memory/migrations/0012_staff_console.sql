-- Staff console (issue 12): staff roles and one-time setup links, ticket claims and internal notes, and
-- a notification channel the console listens on so a change made by any process (a worker opening a
-- ticket, the payment webhook, the CLI) reaches every open console without polling.

ALTER TABLE agents ADD COLUMN role text NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'manager'));
-- an account exists before its owner chose a password: it can't log in until the setup link is used
ALTER TABLE agents ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE agents ADD COLUMN setup_token_hash text UNIQUE;
ALTER TABLE agents ADD COLUMN setup_expires_at timestamptz;
ALTER TABLE agents ADD COLUMN last_login_at timestamptz;

ALTER TABLE handoff_tickets ADD COLUMN claimed_at timestamptz;

CREATE TABLE handoff_notes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    ticket_id       bigint NOT NULL REFERENCES handoff_tickets(id) ON DELETE CASCADE,
    agent_id        bigint REFERENCES agents(id) ON DELETE SET NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX handoff_notes_ticket_idx ON handoff_notes (tenant_id, ticket_id, id);

CREATE FUNCTION console_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target bigint;
BEGIN
    -- a message is news about its ticket: consoles showing that ticket reload it
    IF TG_ARGV[0] = 'message' THEN target := NEW.ticket_id; ELSE target := NEW.id; END IF;
    PERFORM pg_notify('comanda_console', json_build_object(
        'tenant_id', NEW.tenant_id, 'kind', TG_ARGV[0], 'id', target, 'op', lower(TG_OP))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER console_tickets AFTER INSERT OR UPDATE ON handoff_tickets
    FOR EACH ROW EXECUTE FUNCTION console_notify('ticket');
CREATE TRIGGER console_ticket_messages AFTER INSERT ON handoff_messages
    FOR EACH ROW EXECUTE FUNCTION console_notify('message');
CREATE TRIGGER console_orders AFTER INSERT OR UPDATE OF status ON orders
    FOR EACH ROW EXECUTE FUNCTION console_notify('order');
