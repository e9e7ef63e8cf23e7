-- 0008: a member keeps lots figures from the moment it is added: none, from
-- its creation, holding for ever (until the first credit changes them). Until
-- now a new member kept none (lots_until_us 0), so its first credit read its
-- lots to start them. Members still without figures are exactly those whose
-- lots never changed, so they have no lots: give them what adding them now
-- gives, which verify's replay rebuilds and compares.

UPDATE members SET lots_at_us = created_us, lots_until_us = 9223372036854775807,
                   lots_available = 0, lots_pending = 0, lots_expired = 0,
                   lots_next_expiry_us = 0, lots_next_expiry_points = 0
    WHERE lots_until_us = 0;
