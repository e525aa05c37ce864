-- Orders can be "accepted": the store's POS acknowledged the order before the kitchen starts it (issue 11).
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN (
    'placed', 'awaiting_payment', 'paid', 'accepted', 'preparing', 'out_for_delivery', 'delivered', 'cancelled',
    'refunded'));
