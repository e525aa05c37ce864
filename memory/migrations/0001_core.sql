-- Core schema: tenants, menus, customers, orders, outbox, payments, handoffs, agents, memories.
-- Every tenant-owned row carries tenant_id; money is numeric(12,2); phones are E.164 text.

CREATE EXTENSION IF NOT EXISTS vector;

-- Accent-folding for full-text search. The contrib `unaccent` is not in every Postgres build (the embedded
-- one lacks it), and generated columns need an IMMUTABLE function, so we fold the Portuguese accents ourselves.
CREATE FUNCTION fold_accents(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(translate($1,
        'áàâãäéèêëíìîïóòôõöúùûüçñÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑ',
        'aaaaaeeeeiiiiooooouuuucnAAAAAEEEEIIIIOOOOOUUUUCN'));

CREATE TABLE tenants (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name            text NOT NULL,
    whatsapp        text NOT NULL UNIQUE CHECK (whatsapp ~ '^\+[1-9][0-9]{7,14}$'),
    address         text NOT NULL DEFAULT '',
    timezone        text NOT NULL DEFAULT 'America/Sao_Paulo',
    locale          text NOT NULL DEFAULT 'pt-BR' CHECK (locale IN ('pt-BR', 'en')),
    delivery_fee    numeric(12,2) NOT NULL DEFAULT 0 CHECK (delivery_fee >= 0),
    hours           jsonb NOT NULL DEFAULT '{}'::jsonb,
    asaas_settings  jsonb NOT NULL DEFAULT '{}'::jsonb,
    sqs_settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE menu_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    sku             text NOT NULL,
    category        text NOT NULL,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    price           numeric(12,2) NOT NULL CHECK (price >= 0),
    tags            text[] NOT NULL DEFAULT '{}',
    allergens       text[] NOT NULL DEFAULT '{}',
    available       boolean NOT NULL DEFAULT true,
    -- option groups as imported ([{group, min, max, choices: [{name, price}]}]); validated by the importer
    options         jsonb NOT NULL DEFAULT '[]'::jsonb,
    removable       text[] NOT NULL DEFAULT '{}',
    position        integer NOT NULL DEFAULT 0,
    -- fingerprint of the imported fields, so a re-import of the same file writes nothing
    source_hash     text NOT NULL DEFAULT '',
    embedding       vector(384),
    search          tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('simple', fold_accents(name)), 'A') ||
                        setweight(to_tsvector('simple', fold_accents(category)), 'B') ||
                        setweight(to_tsvector('simple', fold_accents(description)), 'C')
                    ) STORED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, sku)
);
CREATE INDEX menu_items_search_idx ON menu_items USING gin (search);
CREATE INDEX menu_items_tags_idx ON menu_items USING gin (tags);

CREATE TABLE customers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    name            text,
    email           text,
    cpf             text CHECK (cpf IS NULL OR cpf ~ '^[0-9]{11}$'),
    preferences     jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags            text[] NOT NULL DEFAULT '{}',
    loyalty_points  integer NOT NULL DEFAULT 0,
    lgpd_consent_at timestamptz,
    default_address_id bigint,
    source          text NOT NULL DEFAULT 'whatsapp',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, phone)
);

CREATE TABLE addresses (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    label           text,
    street          text NOT NULL,
    number          text NOT NULL,
    complement      text,
    neighborhood    text NOT NULL,
    city            text NOT NULL,
    state           text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    postal_code     text CHECK (postal_code IS NULL OR postal_code ~ '^[0-9]{5}-[0-9]{3}$'),
    reference       text,
    latitude        double precision,
    longitude       double precision,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX addresses_customer_idx ON addresses (tenant_id, customer_id);
ALTER TABLE customers ADD CONSTRAINT customers_default_address_fk
    FOREIGN KEY (default_address_id) REFERENCES addresses(id) ON DELETE SET NULL;

CREATE TABLE orders (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     bigint NOT NULL REFERENCES customers(id),
    -- idempotency: the same checkout (thread + cart revision) never makes two orders
    idempotency_key text NOT NULL,
    status          text NOT NULL DEFAULT 'placed'
                    CHECK (status IN ('placed', 'awaiting_payment', 'paid', 'cancelled', 'delivered')),
    payment_method  text NOT NULL CHECK (payment_method IN ('pix', 'card', 'cash')),
    change_for      numeric(12,2),
    subtotal        numeric(12,2) NOT NULL CHECK (subtotal >= 0),
    delivery_fee    numeric(12,2) NOT NULL CHECK (delivery_fee >= 0),
    total           numeric(12,2) NOT NULL CHECK (total >= 0),
    address_id      bigint REFERENCES addresses(id) ON DELETE SET NULL,
    -- the address as it was when the order was placed (addresses may change later)
    address         jsonb NOT NULL,
    notes           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX orders_customer_idx ON orders (tenant_id, customer_id, created_at DESC);

CREATE TABLE order_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    order_id        bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    menu_item_id    bigint NOT NULL REFERENCES menu_items(id),
    sku             text NOT NULL,
    name            text NOT NULL,
    qty             integer NOT NULL CHECK (qty > 0),
    unit_price      numeric(12,2) NOT NULL CHECK (unit_price >= 0),
    line_total      numeric(12,2) NOT NULL CHECK (line_total >= 0),
    options         jsonb NOT NULL DEFAULT '[]'::jsonb,
    removed         text[] NOT NULL DEFAULT '{}',
    position        integer NOT NULL DEFAULT 0
);
CREATE INDEX order_items_order_idx ON order_items (tenant_id, order_id);

CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    event_id        uuid NOT NULL UNIQUE,
    event_type      text NOT NULL,
    aggregate_id    bigint NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE payments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    order_id        bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    provider        text NOT NULL,
    provider_ref    text NOT NULL,
    method          text NOT NULL CHECK (method IN ('pix', 'card', 'cash')),
    amount          numeric(12,2) NOT NULL CHECK (amount >= 0),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed', 'refunded')),
    pix_code        text,
    pay_url         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    UNIQUE (provider, provider_ref),
    UNIQUE (tenant_id, order_id, provider)
);

CREATE TABLE agents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email           text NOT NULL,
    name            text NOT NULL,
    password_hash   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email)
);

CREATE TABLE handoff_tickets (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     bigint REFERENCES customers(id),
    thread_id       text NOT NULL,
    phone           text NOT NULL,
    reason          text NOT NULL,
    summary         text NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    agent_id        bigint REFERENCES agents(id),
    opened_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
-- one open ticket per conversation: re-running the handoff node (resume replays it) can't open a second
CREATE UNIQUE INDEX handoff_one_open_idx ON handoff_tickets (tenant_id, thread_id) WHERE status = 'open';

CREATE TABLE handoff_messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    ticket_id       bigint NOT NULL REFERENCES handoff_tickets(id) ON DELETE CASCADE,
    sender          text NOT NULL CHECK (sender IN ('customer', 'agent', 'bot')),
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memories (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     bigint REFERENCES customers(id) ON DELETE CASCADE,
    kind            text NOT NULL,
    text            text NOT NULL,
    embedding       vector(384),
    search          tsvector GENERATED ALWAYS AS (to_tsvector('simple', fold_accents(text))) STORED,
    source_turn     text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memories_search_idx ON memories USING gin (search);
CREATE INDEX memories_customer_idx ON memories (tenant_id, customer_id);
