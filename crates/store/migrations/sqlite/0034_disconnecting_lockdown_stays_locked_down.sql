-- A lockdown that destroyed the account's credential used to leave the account `disconnected`,
-- which the lockdown's rules (only the owner changes memberships, no invitations, reconnecting
-- does not lift it) did not recognise. Nothing else ever set that status: such accounts are
-- still in that lockdown, and say so now; lifting it leaves them `disconnected`.
UPDATE social_accounts SET status = 'locked_down' WHERE status = 'disconnected';
