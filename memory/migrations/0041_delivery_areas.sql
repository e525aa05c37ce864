-- Delivery areas per restaurant (issue 14): neighbourhoods and/or CEP prefixes with a fee each, or radius bands
-- (km from the restaurant's coordinates) with a fee each. A restaurant without areas keeps its flat delivery_fee.
ALTER TABLE tenants
    ADD COLUMN latitude  double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD CONSTRAINT tenants_coordinates_both CHECK ((latitude IS NULL) = (longitude IS NULL));

CREATE TABLE delivery_areas (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- the order the restaurant wrote them in: the first neighbourhood/CEP area that matches wins
    position        integer NOT NULL,
    name            text NOT NULL,
    fee             numeric(12,2) NOT NULL CHECK (fee >= 0),
    neighborhoods   text[] NOT NULL DEFAULT '{}',
    cep_prefixes    text[] NOT NULL DEFAULT '{}',
    max_km          numeric(7,2) CHECK (max_km > 0),
    -- an area is either a list of places or a radius band, never both nor neither
    CHECK ((max_km IS NULL) = (cardinality(neighborhoods) + cardinality(cep_prefixes) > 0)),
    UNIQUE (tenant_id, position)
);
