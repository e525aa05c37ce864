-- A manager can pause the bot for the whole restaurant (staff console): every conversation then goes to a person.
ALTER TABLE tenants ADD COLUMN bot_paused boolean NOT NULL DEFAULT false;
