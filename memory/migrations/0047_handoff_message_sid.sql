-- A customer's message lands on a ticket once: a turn replayed after its worker died (while a person holds the
-- conversation) carries the same MessageSid, and must not add the message a second time.
ALTER TABLE handoff_messages ADD COLUMN message_sid text;
CREATE UNIQUE INDEX handoff_messages_sid ON handoff_messages (tenant_id, message_sid) WHERE message_sid IS NOT NULL;
