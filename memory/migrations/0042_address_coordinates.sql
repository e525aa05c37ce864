-- Addresses from a WhatsApp location pin (issue 14): the pin's coordinates are kept as numbers, never as text
-- fields. They are either both set or both absent, and on the globe; the webhook refuses out-of-range pins first,
-- these checks keep any other writer honest.
ALTER TABLE addresses
    ADD CONSTRAINT addresses_coordinates_pair CHECK ((latitude IS NULL) = (longitude IS NULL)),
    ADD CONSTRAINT addresses_latitude_range CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
    ADD CONSTRAINT addresses_longitude_range CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180);
